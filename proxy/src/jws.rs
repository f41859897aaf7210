//! Signed JWTs others made: the ID-JAG Okta signs and the `private_key_jwt` assertions of
//! pre-registered clients. Only the signature is checked here, against a given key set; what
//! the claims must say is the caller's business (each grant names its own rules).
//!
//! Why it is built this way: `openidconnect` already carries the key types and signature
//! checks (RSA, ECDSA, EdDSA) the login uses, so this module only splits the compact form,
//! picks the key and refuses what must never verify: `alg: none`, symmetric algorithms (a
//! public key must not become an HMAC secret) and keys not meant for signatures.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use openidconnect::core::{
    CoreJsonWebKey, CoreJsonWebKeySet, CoreJsonWebKeyType, CoreJsonWebKeyUse,
    CoreJwsSigningAlgorithm,
};
use openidconnect::{JsonWebKey, JsonWebKeyAlgorithm};
use serde::Deserialize;
use serde_json::{Map, Value};

/// Longest JWT looked at; an ID-JAG or client assertion is a few kilobytes at most.
pub const MAX_JWT: usize = 16 * 1024;

/// The JOSE header fields that matter here.
#[derive(Debug, Clone, Deserialize)]
pub struct JwsHeader {
    pub alg: String,
    #[serde(default)]
    pub kid: Option<String>,
    #[serde(default)]
    pub typ: Option<String>,
}

/// A JWT whose signature verified.
#[derive(Debug, Clone)]
pub struct VerifiedJwt {
    pub header: JwsHeader,
    pub claims: Map<String, Value>,
}

/// Why a JWT was refused; the text names no token content.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JwsError {
    #[error("it is not a signed JWT ({0})")]
    Malformed(&'static str),
    #[error("its algorithm {0} is not accepted (use RS256, PS256, ES256 or EdDSA)")]
    Algorithm(String),
    #[error("no key of the issuer matches its kid")]
    UnknownKey,
    #[error("its signature does not verify")]
    Signature,
}

/// The algorithms accepted: asymmetric only.
fn algorithm(name: &str) -> Result<CoreJwsSigningAlgorithm, JwsError> {
    use CoreJwsSigningAlgorithm as A;
    let alg = match name {
        "RS256" => A::RsaSsaPkcs1V15Sha256,
        "RS384" => A::RsaSsaPkcs1V15Sha384,
        "RS512" => A::RsaSsaPkcs1V15Sha512,
        "PS256" => A::RsaSsaPssSha256,
        "PS384" => A::RsaSsaPssSha384,
        "PS512" => A::RsaSsaPssSha512,
        "ES256" => A::EcdsaP256Sha256,
        "ES384" => A::EcdsaP384Sha384,
        "EdDSA" => A::EdDsa,
        other => {
            return Err(JwsError::Algorithm(
                other.chars().take(16).collect::<String>(),
            ));
        }
    };
    Ok(alg)
}

fn decode_part(part: &str, what: &'static str) -> Result<Vec<u8>, JwsError> {
    URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| JwsError::Malformed(what))
}

/// Whether `key` may check a signature made with `alg`.
fn usable(key: &CoreJsonWebKey, alg: &CoreJwsSigningAlgorithm) -> bool {
    if *key.key_type() == CoreJsonWebKeyType::Symmetric {
        return false;
    }
    if key
        .key_use()
        .is_some_and(|u| *u != CoreJsonWebKeyUse::Signature)
    {
        return false;
    }
    match key.signing_alg() {
        JsonWebKeyAlgorithm::Algorithm(only) => only == alg,
        JsonWebKeyAlgorithm::Unspecified => true,
        JsonWebKeyAlgorithm::Unsupported => false,
    }
}

/// The header of `token` without checking anything else (to pick the key set, or to say early
/// that `typ` is wrong).
pub fn peek_header(token: &str) -> Result<JwsHeader, JwsError> {
    if token.len() > MAX_JWT {
        return Err(JwsError::Malformed("longer than 16 KiB"));
    }
    let header = token
        .split('.')
        .next()
        .ok_or(JwsError::Malformed("no header"))?;
    serde_json::from_slice(&decode_part(header, "header is not base64url")?)
        .map_err(|_| JwsError::Malformed("header is not a JOSE header"))
}

/// Verifies `token` (compact JWS) with one of `keys` and returns its header and claims.
///
/// With a `kid`, only the key of that id is tried; without one, every usable key is (a client's
/// set usually holds one key).
pub fn verify(token: &str, keys: &CoreJsonWebKeySet) -> Result<VerifiedJwt, JwsError> {
    let header = peek_header(token)?;
    let mut parts = token.split('.');
    let (Some(head), Some(payload), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(JwsError::Malformed("not three parts"));
    };
    let alg = algorithm(&header.alg)?;
    let signature = decode_part(signature, "signature is not base64url")?;
    let signed = &token[..head.len() + 1 + payload.len()];
    let mut candidates = keys
        .keys()
        .iter()
        .filter(|key| match (&header.kid, key.key_id()) {
            (Some(kid), Some(id)) => id.as_str() == kid,
            (Some(_), None) => false,
            (None, _) => true,
        })
        .filter(|key| usable(key, &alg))
        .peekable();
    if candidates.peek().is_none() {
        return Err(JwsError::UnknownKey);
    }
    if !candidates.any(|key| {
        key.verify_signature(&alg, signed.as_bytes(), &signature)
            .is_ok()
    }) {
        return Err(JwsError::Signature);
    }
    Ok(VerifiedJwt {
        header,
        claims: decode_claims(payload)?,
    })
}

/// The claims of a JWT's payload part.
fn decode_claims(payload: &str) -> Result<Map<String, Value>, JwsError> {
    let claims: Value = serde_json::from_slice(&decode_part(payload, "payload is not base64url")?)
        .map_err(|_| JwsError::Malformed("payload is not JSON"))?;
    let Value::Object(claims) = claims else {
        return Err(JwsError::Malformed("payload is not a JSON object"));
    };
    Ok(claims)
}

/// The claims of `token` without checking its signature: only to find the keys to check it
/// with (a client assertion names its client in `sub`).
pub fn peek_claims(token: &str) -> Result<Map<String, Value>, JwsError> {
    if token.len() > MAX_JWT {
        return Err(JwsError::Malformed("longer than 16 KiB"));
    }
    let payload = token
        .split('.')
        .nth(1)
        .ok_or(JwsError::Malformed("no payload"))?;
    decode_claims(payload)
}

/// A JWKS document, if it is one (keys of unknown types are kept, and never verify).
pub fn parse_key_set(json: &str) -> Option<CoreJsonWebKeySet> {
    serde_json::from_str(json).ok()
}

/// A string claim, if present and a string.
pub fn string_claim<'a>(claims: &'a Map<String, Value>, name: &str) -> Option<&'a str> {
    claims.get(name).and_then(Value::as_str)
}

/// A numeric date claim (seconds), if present and an integer.
pub fn time_claim(claims: &Map<String, Value>, name: &str) -> Option<i64> {
    claims.get(name).and_then(Value::as_i64)
}

/// Whether `aud` is exactly `expected`: the string itself or a one-element array of it.
pub fn audience_is(claims: &Map<String, Value>, expected: &str) -> bool {
    match claims.get("aud") {
        Some(Value::String(aud)) => aud == expected,
        Some(Value::Array(list)) => list.len() == 1 && list[0].as_str() == Some(expected),
        _ => false,
    }
}

/// ES256 keys and tokens for tests here and in the grants that use this module.
#[cfg(test)]
pub(crate) mod test_keys {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use ring::rand::SystemRandom;
    use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
    use serde_json::{Value, json};

    fn encode(value: &Value) -> String {
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).unwrap())
    }

    /// An ES256 key made for the test and its public JWK.
    pub(crate) fn es256(kid: Option<&str>) -> (EcdsaKeyPair, Value) {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng)
            .unwrap();
        let point = pair.public_key().as_ref();
        let mut jwk = json!({
            "kty": "EC", "crv": "P-256", "use": "sig",
            "x": URL_SAFE_NO_PAD.encode(&point[1..33]),
            "y": URL_SAFE_NO_PAD.encode(&point[33..65]),
        });
        if let Some(kid) = kid {
            jwk["kid"] = json!(kid);
        }
        (pair, jwk)
    }

    pub(crate) fn es256_token(pair: &EcdsaKeyPair, header: &Value, claims: &Value) -> String {
        let signing_input = format!("{}.{}", encode(header), encode(claims));
        let sig = pair
            .sign(&SystemRandom::new(), signing_input.as_bytes())
            .unwrap();
        format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(sig.as_ref()))
    }
}

#[cfg(test)]
mod tests {
    use super::test_keys::{es256, es256_token};
    use super::*;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use hmac::{Hmac, Mac};
    use serde_json::json;

    fn encode(value: &Value) -> String {
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).unwrap())
    }

    fn hs256_token(secret: &[u8], header: &Value, claims: &Value) -> String {
        let signing_input = format!("{}.{}", encode(header), encode(claims));
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret).unwrap();
        mac.update(signing_input.as_bytes());
        let sig = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
        format!("{signing_input}.{sig}")
    }

    fn symmetric_set(secret: &[u8]) -> CoreJsonWebKeySet {
        serde_json::from_value(
            json!({"keys": [{"kty": "oct", "k": URL_SAFE_NO_PAD.encode(secret)}]}),
        )
        .unwrap()
    }

    fn set(keys: &[&Value]) -> CoreJsonWebKeySet {
        serde_json::from_value(json!({ "keys": keys })).unwrap()
    }

    #[test]
    fn a_signature_verifies_with_the_key_of_its_kid_only() {
        let (a, jwk_a) = es256(Some("a"));
        let (_, jwk_b) = es256(Some("b"));
        let claims = json!({"iss": "https://okta.example", "n": 1});
        let token = es256_token(
            &a,
            &json!({"alg": "ES256", "kid": "a", "typ": "x+jwt"}),
            &claims,
        );
        let verified = verify(&token, &set(&[&jwk_b, &jwk_a])).unwrap();
        assert_eq!(verified.header.typ.as_deref(), Some("x+jwt"));
        assert_eq!(Value::Object(verified.claims), claims);
        // The same token against a set without key "a".
        assert_eq!(
            verify(&token, &set(&[&jwk_b])).unwrap_err(),
            JwsError::UnknownKey
        );
        // Another key under the kid "a".
        let mut impostor = jwk_b.clone();
        impostor["kid"] = json!("a");
        assert_eq!(
            verify(&token, &set(&[&impostor])).unwrap_err(),
            JwsError::Signature
        );
        // Without a kid, every usable key is tried.
        let no_kid = es256_token(&a, &json!({"alg": "ES256"}), &claims);
        assert!(verify(&no_kid, &set(&[&jwk_b, &jwk_a])).is_ok());
        // A changed payload with the old signature.
        let mut parts: Vec<&str> = token.split('.').collect();
        let forged = encode(&json!({"iss": "https://okta.example", "n": 2}));
        parts[1] = &forged;
        assert_eq!(
            verify(&parts.join("."), &set(&[&jwk_a])).unwrap_err(),
            JwsError::Signature
        );
        // A key meant for encryption, or pinned to another algorithm, is not used.
        let mut enc = jwk_a.clone();
        enc["use"] = json!("enc");
        assert_eq!(
            verify(&token, &set(&[&enc])).unwrap_err(),
            JwsError::UnknownKey
        );
        let mut pinned = jwk_a.clone();
        pinned["alg"] = json!("ES384");
        assert_eq!(
            verify(&token, &set(&[&pinned])).unwrap_err(),
            JwsError::UnknownKey
        );
    }

    #[test]
    fn alg_none_and_symmetric_algorithms_never_verify() {
        let keys = symmetric_set(b"0123456789abcdef0123456789abcdef");
        let token = hs256_token(
            b"0123456789abcdef0123456789abcdef",
            &json!({"alg": "HS256"}),
            &json!({"sub": "x"}),
        );
        assert_eq!(
            verify(&token, &keys).unwrap_err(),
            JwsError::Algorithm("HS256".into())
        );
        let none = format!(
            "{}.{}.",
            encode(&json!({"alg": "none"})),
            encode(&json!({"sub": "x"}))
        );
        assert_eq!(
            verify(&none, &keys).unwrap_err(),
            JwsError::Algorithm("none".into())
        );
        // RS256 named in the header, but the only key is a shared secret: not usable.
        let confused = hs256_token(
            b"0123456789abcdef0123456789abcdef",
            &json!({"alg": "RS256"}),
            &json!({"sub": "x"}),
        );
        assert_eq!(verify(&confused, &keys).unwrap_err(), JwsError::UnknownKey);
    }

    #[test]
    fn malformed_tokens_are_refused_with_a_reason() {
        let keys = symmetric_set(b"k");
        for bad in [
            "",
            "abc",
            "a.b",
            "!!.b.c",
            &format!("{}.b.c", encode(&json!("not an object"))),
            &format!("{}.x.y.z", encode(&json!({"alg": "RS256"}))),
            &"a".repeat(MAX_JWT + 1),
        ] {
            assert!(
                matches!(verify(bad, &keys), Err(JwsError::Malformed(_))),
                "{bad:.40}"
            );
        }
    }

    #[test]
    fn audience_must_be_exact() {
        let claims = |aud: Value| json!({ "aud": aud }).as_object().unwrap().clone();
        assert!(audience_is(&claims(json!("https://a")), "https://a"));
        assert!(audience_is(&claims(json!(["https://a"])), "https://a"));
        assert!(!audience_is(
            &claims(json!(["https://a", "https://b"])),
            "https://a"
        ));
        assert!(!audience_is(&claims(json!("https://a/")), "https://a"));
        assert!(!audience_is(&claims(json!(7)), "https://a"));
    }
}
