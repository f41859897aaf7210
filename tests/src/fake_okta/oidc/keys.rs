//! The fake org's one RS256 signing key: a fixed test key checked in as `signing-key.pem`
//! (PKCS#8, generated once with `openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048`),
//! so tokens verify across restarts and nothing is generated at run time. Test material only.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use ring::rand::SystemRandom;
use ring::rsa::PublicKeyComponents;
use ring::signature::{RSA_PKCS1_SHA256, RsaKeyPair};
use serde_json::{Value, json};

/// The checked-in private key (test material, never used outside the fake org).
const SIGNING_KEY_PEM: &str = include_str!("signing-key.pem");

/// Signs JWTs with RS256 and publishes the matching JWKS.
pub struct SigningKey {
    pair: RsaKeyPair,
    rng: SystemRandom,
    /// RFC 7638 thumbprint of the public key, used as `kid`.
    kid: String,
    /// base64url modulus and exponent.
    n: String,
    e: String,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// The embedded key.
    pub fn embedded() -> Result<Self, String> {
        Self::from_pem(SIGNING_KEY_PEM)
    }

    /// A PKCS#8 `PRIVATE KEY` PEM.
    pub fn from_pem(pem: &str) -> Result<Self, String> {
        let body: String = pem
            .lines()
            .map(str::trim)
            .filter(|line| !line.starts_with("-----"))
            .collect();
        let der = STANDARD
            .decode(body)
            .map_err(|e| format!("signing key is not base64: {e}"))?;
        let pair = RsaKeyPair::from_pkcs8(&der)
            .map_err(|e| format!("signing key is not a PKCS#8 RSA key: {e}"))?;
        let public: PublicKeyComponents<Vec<u8>> = pair.public().into();
        let n = URL_SAFE_NO_PAD.encode(&public.n);
        let e = URL_SAFE_NO_PAD.encode(&public.e);
        // RFC 7638: members in lexicographic order, no whitespace.
        let canonical = format!(r#"{{"e":"{e}","kty":"RSA","n":"{n}"}}"#);
        let kid = URL_SAFE_NO_PAD.encode(ring::digest::digest(
            &ring::digest::SHA256,
            canonical.as_bytes(),
        ));
        Ok(Self {
            pair,
            rng: SystemRandom::new(),
            kid,
            n,
            e,
        })
    }

    /// The key id every token's header names.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The JWKS document (`/oauth2/v1/keys`).
    pub fn jwks(&self) -> Value {
        json!({
            "keys": [{
                "kty": "RSA",
                "alg": "RS256",
                "kid": self.kid,
                "use": "sig",
                "e": self.e,
                "n": self.n,
            }]
        })
    }

    /// A compact JWS (RS256) of `claims`.
    pub fn sign(&self, claims: &Value) -> Result<String, String> {
        self.sign_typed(None, claims)
    }

    /// A compact JWS (RS256) of `claims` whose header names `typ` (none: no `typ`).
    pub fn sign_typed(&self, typ: Option<&str>, claims: &Value) -> Result<String, String> {
        let mut header = json!({ "kid": self.kid, "alg": "RS256" });
        if let Some(typ) = typ {
            header["typ"] = json!(typ);
        }
        let mut token = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let mut signature = vec![0; self.pair.public().modulus_len()];
        self.pair
            .sign(
                &RSA_PKCS1_SHA256,
                &self.rng,
                token.as_bytes(),
                &mut signature,
            )
            .map_err(|_| "RSA signing failed".to_string())?;
        token.push('.');
        token.push_str(&URL_SAFE_NO_PAD.encode(signature));
        Ok(token)
    }
}

/// base64url(SHA-256(ascii)), as PKCE S256 compares it.
pub fn s256(ascii: &str) -> String {
    URL_SAFE_NO_PAD.encode(ring::digest::digest(
        &ring::digest::SHA256,
        ascii.as_bytes(),
    ))
}

/// OIDC `at_hash`: base64url of the left half of SHA-256(access token).
pub fn at_hash(access_token: &str) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, access_token.as_bytes());
    URL_SAFE_NO_PAD.encode(&digest.as_ref()[..16])
}

#[cfg(test)]
mod tests {
    use super::*;
    use ring::signature::{RSA_PKCS1_2048_8192_SHA256, RsaPublicKeyComponents};

    #[test]
    fn embedded_key_signs_tokens_that_verify_against_the_jwks() {
        let key = SigningKey::embedded().expect("embedded key parses");
        let token = key.sign(&json!({"sub": "x"})).expect("signs");
        let parts: Vec<&str> = token.split('.').collect();
        assert_eq!(parts.len(), 3);
        let header: Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).expect("b64")).expect("json");
        assert_eq!(header["alg"], "RS256");
        assert_eq!(header["kid"], key.kid());
        let jwk = &key.jwks()["keys"][0];
        assert_eq!(jwk["kid"], key.kid());
        let public = RsaPublicKeyComponents {
            n: URL_SAFE_NO_PAD
                .decode(jwk["n"].as_str().expect("n"))
                .expect("n b64"),
            e: URL_SAFE_NO_PAD
                .decode(jwk["e"].as_str().expect("e"))
                .expect("e b64"),
        };
        let signature = URL_SAFE_NO_PAD.decode(parts[2]).expect("sig b64");
        let signed = format!("{}.{}", parts[0], parts[1]);
        public
            .verify(&RSA_PKCS1_2048_8192_SHA256, signed.as_bytes(), &signature)
            .expect("signature verifies");
        assert_eq!(jwk["e"], "AQAB");
        assert_eq!(key.kid().len(), 43);
    }

    #[test]
    fn pkce_s256_matches_rfc_7636_example() {
        assert_eq!(
            s256("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn bad_pem_is_an_error() {
        assert!(SigningKey::from_pem("-----BEGIN PRIVATE KEY-----\n!!\n").is_err());
        assert!(SigningKey::from_pem("-----BEGIN PRIVATE KEY-----\nAAAA\n").is_err());
    }
}
