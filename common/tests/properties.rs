//! Properties of the identity header contract, on generated input (issue 11 §2).
//!
//! 256 cases per property unless `PROPTEST_CASES` says otherwise. The fuzz target
//! `identity_header` (fuzz/) drives the same verifier with arbitrary bytes.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use okta_mcp_common::identity::{
    EMAIL_HEADER, IDENTITY_HEADER, Identity, IdentityError, IdentityKey, IdentityVerifier,
    MAX_SKEW_SECS, ROLE_HEADER, RequestBinding, SESSION_HEADER, SUBJECT_HEADER, canonical, sign,
};
use proptest::prelude::*;
use sha2::Sha256;

const KEY: &str = "okta-mcp-property-test-key-0123456789abcdef";
const NOW: i64 = 1_767_225_600;
/// `NOW` in the milliseconds the verifier takes.
const NOW_MS: i64 = NOW * 1000;

fn verifier() -> IdentityVerifier {
    // Started at the epoch: the headers here are all signed after it.
    IdentityVerifier::started_at(IdentityKey::new(KEY).unwrap(), 0)
}

/// Text a header value can carry: visible ASCII and spaces.
fn header_text(max: usize) -> impl Strategy<Value = String> {
    proptest::string::string_regex(&format!("[ -~]{{0,{max}}}")).unwrap()
}

fn nonce() -> impl Strategy<Value = String> {
    any::<[u8; 16]>().prop_map(|bytes| URL_SAFE_NO_PAD.encode(bytes))
}

/// One request as the proxy would forward it.
#[derive(Debug, Clone)]
struct Forwarded {
    method: String,
    path: String,
    session: String,
    identity: Identity,
}

fn forwarded() -> impl Strategy<Value = Forwarded> {
    (
        prop_oneof![
            Just("POST".to_owned()),
            Just("GET".to_owned()),
            "[A-Za-z]{1,8}"
        ],
        "/[!-~]{0,40}",
        header_text(40),
        "[a-z-]{1,20}",
        header_text(40),
        header_text(40),
    )
        .prop_map(|(method, path, session, role, subject, email)| Forwarded {
            method,
            path,
            session,
            identity: Identity {
                role,
                subject,
                email,
            },
        })
}

fn headers(request: &Forwarded, value: &str) -> http::HeaderMap {
    let mut h = http::HeaderMap::new();
    h.insert(ROLE_HEADER, request.identity.role.parse().unwrap());
    h.insert(SUBJECT_HEADER, request.identity.subject.parse().unwrap());
    h.insert(EMAIL_HEADER, request.identity.email.parse().unwrap());
    h.insert(IDENTITY_HEADER, value.parse().unwrap());
    if !request.session.is_empty() {
        h.insert(SESSION_HEADER, request.session.parse().unwrap());
    }
    h
}

fn signed(request: &Forwarded, t: i64, nonce: &str) -> String {
    let binding = RequestBinding {
        method: &request.method,
        path: &request.path,
        session_id: &request.session,
    };
    sign(
        &IdentityKey::new(KEY).unwrap(),
        t,
        nonce,
        binding,
        &request.identity,
    )
}

proptest! {
    /// What the proxy signs, the tool server accepts once, as the same identity; the second
    /// time it is a replay.
    #[test]
    fn sign_then_verify_round_trips(request in forwarded(), nonce in nonce(), skew in -MAX_SKEW_SECS..=MAX_SKEW_SECS) {
        let value = signed(&request, NOW + skew, &nonce);
        let h = headers(&request, &value);
        let v = verifier();
        prop_assert_eq!(v.verify(&request.method, &request.path, &h, NOW_MS), Ok(request.identity.clone()));
        prop_assert_eq!(v.verify(&request.method, &request.path, &h, NOW_MS), Err(IdentityError::Replayed));
    }

    /// The fast signer computes exactly the README's contract: HMAC-SHA256 over the canonical
    /// text, for any time (negative and extreme ones too) and any field text.
    #[test]
    fn the_signature_is_the_hmac_of_the_canonical_text(
        request in forwarded(),
        nonce in "[A-Za-z0-9_-]{0,30}",
        t in prop_oneof![Just(i64::MIN), Just(i64::MAX), Just(0i64), any::<i64>()],
    ) {
        let binding = RequestBinding { method: &request.method, path: &request.path, session_id: &request.session };
        let mut mac = Hmac::<Sha256>::new_from_slice(KEY.as_bytes()).unwrap();
        mac.update(canonical(t, &nonce, binding, &request.identity).as_bytes());
        let expected = format!("v1;t={t};n={nonce};sig={}", URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes()));
        prop_assert_eq!(signed(&request, t, &nonce), expected);
    }

    /// A header moved to another request, or with any signed field changed, is refused.
    #[test]
    fn any_changed_field_is_refused(
        request in forwarded(),
        nonce in nonce(),
        field in 0usize..6,
        other in "[a-z0-9/]{1,12}",
    ) {
        let value = signed(&request, NOW, &nonce);
        let mut changed = request.clone();
        let target = match field {
            0 => &mut changed.method,
            1 => &mut changed.path,
            2 => &mut changed.session,
            3 => &mut changed.identity.role,
            4 => &mut changed.identity.subject,
            _ => &mut changed.identity.email,
        };
        target.push_str(&other);
        let h = headers(&changed, &value);
        prop_assert_eq!(
            verifier().verify(&changed.method, &changed.path, &h, NOW_MS),
            Err(IdentityError::BadSignature)
        );
    }

    /// Accepted exactly while the timestamp is within the window.
    #[test]
    fn accepted_iff_inside_the_time_window(request in forwarded(), nonce in nonce(), skew in prop_oneof![-12i64..=12, -1000i64..1000]) {
        let value = signed(&request, NOW + skew, &nonce);
        let got = verifier().verify(&request.method, &request.path, &headers(&request, &value), NOW_MS);
        if skew.abs() <= MAX_SKEW_SECS {
            prop_assert!(got.is_ok(), "skew {skew}: {got:?}");
        } else {
            prop_assert_eq!(got, Err(IdentityError::Stale));
        }
    }

    /// Arbitrary header values never panic and are never accepted; none of them reaches the
    /// nonce cache (so junk cannot grow it: only correctly signed nonces are remembered).
    #[test]
    fn junk_is_refused_without_touching_the_nonce_cache(
        values in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..120), 5),
        shaped in any::<bool>(),
        t in any::<i64>(),
    ) {
        let mut h = http::HeaderMap::new();
        let names = [IDENTITY_HEADER, ROLE_HEADER, SUBJECT_HEADER, EMAIL_HEADER, SESSION_HEADER];
        for (name, value) in names.into_iter().zip(&values) {
            let value = if shaped && name == IDENTITY_HEADER {
                // Well-formed enough to reach the signature check.
                format!("v1;t={};n={};sig={}", t.rem_euclid(NOW * 2),
                    URL_SAFE_NO_PAD.encode(&value[..value.len().min(16)]),
                    URL_SAFE_NO_PAD.encode(value)).into_bytes()
            } else {
                value.clone()
            };
            if let Ok(value) = http::HeaderValue::from_bytes(&value) {
                h.insert(name, value);
            }
        }
        let got = verifier().verify("POST", "/mcp", &h, NOW_MS);
        prop_assert!(got.is_err());
        prop_assert!(!matches!(got, Err(IdentityError::Replayed | IdentityError::Busy)), "{got:?}");
    }
}

proptest! {
    /// v2: any text without control characters is sent percent-encoded as visible ASCII and
    /// comes back exactly; any header text either decodes or is refused, never panics.
    #[test]
    fn v2_values_round_trip_through_their_encoding(value in "\\PC{0,40}", junk in "[ -~]{0,40}") {
        let encoded = okta_mcp_common::identity::encode_value(EMAIL_HEADER, &value).unwrap();
        prop_assert!(encoded.bytes().all(|b| b.is_ascii_graphic()), "{encoded}");
        prop_assert_eq!(
            okta_mcp_common::identity::decode_value(EMAIL_HEADER, &encoded).unwrap(),
            value.as_str()
        );
        if let Ok(decoded) = okta_mcp_common::identity::decode_value(EMAIL_HEADER, &junk) {
            prop_assert!(!decoded.chars().any(char::is_control));
        }
    }

    /// v2 headers signed for any such values verify to exactly those values.
    #[test]
    fn v2_sign_then_verify_round_trips(email in "\\PC{0,30}", subject in "[0-9a-zA-Z]{1,20}") {
        let identity = Identity { role: "viewer".into(), subject, email };
        let binding = RequestBinding { method: "POST", path: "/mcp", session_id: "" };
        let key = IdentityKey::new(KEY).unwrap();
        let signed = okta_mcp_common::identity::sign_v2(&key, NOW_MS, &okta_mcp_common::identity::new_nonce(), binding, &identity).unwrap();
        let mut h = http::HeaderMap::new();
        h.insert(ROLE_HEADER, signed.role.parse().unwrap());
        h.insert(SUBJECT_HEADER, signed.subject.parse().unwrap());
        h.insert(EMAIL_HEADER, signed.email.parse().unwrap());
        h.insert(IDENTITY_HEADER, signed.identity.parse().unwrap());
        prop_assert_eq!(verifier().verify("POST", "/mcp", &h, NOW_MS), Ok(identity.clone()));
    }
}
