//! The JWTs of an Okta service app: the `private_key_jwt` client assertion (RFC 7523, signed by
//! the app's registered key) and DPoP proofs (RFC 9449, signed by a key made at start-up).
//!
//! Built with `ring`, the workspace's crypto provider, rather than a JWT crate: two small
//! compact JWS with fixed headers are all that is needed, and no token is ever parsed here.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use ring::rand::{SecureRandom, SystemRandom};
use ring::signature::{self, EcdsaKeyPair, KeyPair, RsaKeyPair};
use serde_json::{Value, json};

/// Why a private key cannot be used; the message says what to do.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error(
        "the key is not PEM: expected a `-----BEGIN PRIVATE KEY-----` block (PKCS#8), such as Okta's console gives"
    )]
    NotPem,
    #[error(
        "the key is a {0} PEM block; convert it to PKCS#8 (`openssl pkcs8 -topk8 -nocrypt -in key.pem`)"
    )]
    NotPkcs8(&'static str),
    #[error("the key is encrypted; give an unencrypted PKCS#8 key (keep the file itself secret)")]
    Encrypted,
    #[error("the key is neither an RSA key (RS256) nor an EC P-256 key (ES256): {0}")]
    WrongType(String),
    #[error("the key could not be signed with: {0}")]
    Signing(String),
}

/// A private key that signs JWS: RSA (RS256) or EC P-256 (ES256).
pub enum SigningKey {
    Rs256(RsaKeyPair),
    Es256(EcdsaKeyPair),
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Rs256(_) => "SigningKey::Rs256(<private>)",
            Self::Es256(_) => "SigningKey::Es256(<private>)",
        })
    }
}

impl SigningKey {
    /// Reads a PKCS#8 PEM private key (RSA or EC P-256).
    pub fn from_pem(pem: &str) -> Result<Self, KeyError> {
        let der = pem_body(pem)?;
        Self::from_pkcs8(&der)
    }

    /// Reads a PKCS#8 DER private key (RSA or EC P-256).
    pub fn from_pkcs8(der: &[u8]) -> Result<Self, KeyError> {
        let rng = SystemRandom::new();
        if let Ok(key) =
            EcdsaKeyPair::from_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, der, &rng)
        {
            return Ok(Self::Es256(key));
        }
        RsaKeyPair::from_pkcs8(der)
            .map(Self::Rs256)
            .map_err(|e| KeyError::WrongType(e.to_string()))
    }

    /// A new EC P-256 key, for DPoP proofs.
    pub fn generate_es256() -> Result<Self, KeyError> {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
            .map_err(|e| KeyError::Signing(e.to_string()))?;
        Self::from_pkcs8(pkcs8.as_ref())
    }

    /// The JWS `alg`.
    pub fn alg(&self) -> &'static str {
        match self {
            Self::Rs256(_) => "RS256",
            Self::Es256(_) => "ES256",
        }
    }

    /// The public key as a JWK (for the DPoP header).
    pub fn public_jwk(&self) -> Value {
        match self {
            Self::Es256(key) => {
                // ring gives the uncompressed point: 0x04 ‖ x (32 bytes) ‖ y (32 bytes).
                let point = key.public_key().as_ref();
                json!({
                    "kty": "EC",
                    "crv": "P-256",
                    "x": URL_SAFE_NO_PAD.encode(&point[1..33]),
                    "y": URL_SAFE_NO_PAD.encode(&point[33..65]),
                })
            }
            Self::Rs256(key) => {
                let public = key.public();
                let components = signature::RsaPublicKeyComponents::<Vec<u8>>::from(public);
                json!({
                    "kty": "RSA",
                    "n": URL_SAFE_NO_PAD.encode(&components.n),
                    "e": URL_SAFE_NO_PAD.encode(&components.e),
                })
            }
        }
    }

    /// A compact JWS of `claims` with `header` (its `alg` set here).
    pub fn sign(&self, mut header: Value, claims: &Value) -> Result<String, KeyError> {
        header["alg"] = json!(self.alg());
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let rng = SystemRandom::new();
        let signature = match self {
            Self::Es256(key) => key
                .sign(&rng, input.as_bytes())
                .map_err(|e| KeyError::Signing(e.to_string()))?
                .as_ref()
                .to_vec(),
            Self::Rs256(key) => {
                let mut out = vec![0; key.public().modulus_len()];
                key.sign(
                    &signature::RSA_PKCS1_SHA256,
                    &rng,
                    input.as_bytes(),
                    &mut out,
                )
                .map_err(|e| KeyError::Signing(e.to_string()))?;
                out
            }
        };
        Ok(format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature)))
    }
}

/// The DER inside a `PRIVATE KEY` PEM block.
fn pem_body(pem: &str) -> Result<Vec<u8>, KeyError> {
    let begin = pem.find("-----BEGIN ").ok_or(KeyError::NotPem)?;
    let rest = &pem[begin + "-----BEGIN ".len()..];
    let label_end = rest.find("-----").ok_or(KeyError::NotPem)?;
    match &rest[..label_end] {
        "PRIVATE KEY" => {}
        "ENCRYPTED PRIVATE KEY" => return Err(KeyError::Encrypted),
        "RSA PRIVATE KEY" => return Err(KeyError::NotPkcs8("PKCS#1 RSA")),
        "EC PRIVATE KEY" => return Err(KeyError::NotPkcs8("SEC1 EC")),
        _ => return Err(KeyError::NotPem),
    }
    let body = &rest[label_end + 5..];
    let end = body.find("-----END").ok_or(KeyError::NotPem)?;
    let text: String = body[..end].chars().filter(|c| !c.is_whitespace()).collect();
    STANDARD.decode(text).map_err(|_| KeyError::NotPem)
}

/// 16 random bytes, base64url: a `jti`.
pub fn random_id() -> String {
    let mut bytes = [0u8; 16];
    // SystemRandom fails only when the OS has no randomness, where nothing else works either.
    let _ = SystemRandom::new().fill(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// `base64url(SHA-256(access_token))`, the proof's `ath` claim.
pub fn access_token_hash(access_token: &str) -> String {
    URL_SAFE_NO_PAD.encode(ring::digest::digest(
        &ring::digest::SHA256,
        access_token.as_bytes(),
    ))
}

/// The `private_key_jwt` client assertion: `iss` = `sub` = client id, `aud` = the token
/// endpoint, valid for 5 minutes (Okta accepts at most one hour), a fresh `jti`.
pub fn client_assertion(
    key: &SigningKey,
    key_id: Option<&str>,
    client_id: &str,
    token_endpoint: &str,
    now: i64,
) -> Result<String, KeyError> {
    let mut header = json!({ "typ": "JWT" });
    if let Some(kid) = key_id {
        header["kid"] = json!(kid);
    }
    key.sign(
        header,
        &json!({
            "iss": client_id,
            "sub": client_id,
            "aud": token_endpoint,
            "iat": now,
            "exp": now + 300,
            "jti": random_id(),
        }),
    )
}

/// A DPoP proof for `method` `htu` (the URL without query or fragment), with `ath` when it goes
/// with an access token and `nonce` when the server asked for one.
pub fn dpop_proof(
    key: &SigningKey,
    method: &str,
    htu: &str,
    access_token: Option<&str>,
    nonce: Option<&str>,
    now: i64,
) -> Result<String, KeyError> {
    let mut claims = json!({ "htm": method, "htu": htu, "iat": now, "jti": random_id() });
    if let Some(token) = access_token {
        claims["ath"] = json!(access_token_hash(token));
    }
    if let Some(nonce) = nonce {
        claims["nonce"] = json!(nonce);
    }
    key.sign(
        json!({ "typ": "dpop+jwt", "jwk": key.public_jwk() }),
        &claims,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(jwt: &str) -> (Value, Value, Vec<u8>) {
        let mut it = jwt.split('.');
        let mut next = || URL_SAFE_NO_PAD.decode(it.next().unwrap()).unwrap();
        let header = serde_json::from_slice(&next()).unwrap();
        let claims = serde_json::from_slice(&next()).unwrap();
        (header, claims, next())
    }

    fn verify_es256(jwt: &str, jwk: &Value) -> bool {
        let (input, sig) = jwt.rsplit_once('.').unwrap();
        let mut point = vec![4u8];
        point.extend(URL_SAFE_NO_PAD.decode(jwk["x"].as_str().unwrap()).unwrap());
        point.extend(URL_SAFE_NO_PAD.decode(jwk["y"].as_str().unwrap()).unwrap());
        signature::UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, point)
            .verify(input.as_bytes(), &URL_SAFE_NO_PAD.decode(sig).unwrap())
            .is_ok()
    }

    fn pem_of(der: &[u8]) -> String {
        let b64 = STANDARD.encode(der);
        let lines: Vec<&str> = b64
            .as_bytes()
            .chunks(64)
            .map(|c| std::str::from_utf8(c).unwrap())
            .collect();
        format!(
            "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
            lines.join("\n")
        )
    }

    #[test]
    fn client_assertion_has_okta_claims_and_verifies() {
        let rng = SystemRandom::new();
        let der = EcdsaKeyPair::generate_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
            .unwrap();
        let key = SigningKey::from_pem(&pem_of(der.as_ref())).unwrap();
        let aud = "https://example.okta.com/oauth2/v1/token";
        let jwt = client_assertion(&key, Some("kid-1"), "0oaclient", aud, 1_000).unwrap();
        let (header, claims, _) = parts(&jwt);
        assert_eq!(
            header,
            json!({"typ": "JWT", "kid": "kid-1", "alg": "ES256"})
        );
        assert_eq!(claims["iss"], "0oaclient");
        assert_eq!(claims["sub"], "0oaclient");
        assert_eq!(claims["aud"], aud);
        assert_eq!(claims["exp"], 1_300);
        assert_eq!(claims["jti"].as_str().unwrap().len(), 22);
        assert!(verify_es256(&jwt, &key.public_jwk()));
        let again = client_assertion(&key, None, "0oaclient", aud, 1_000).unwrap();
        assert_ne!(parts(&again).1["jti"], claims["jti"]);
        assert!(parts(&again).0.get("kid").is_none());
    }

    #[test]
    fn dpop_proof_carries_jwk_htm_htu_ath_nonce() {
        let key = SigningKey::generate_es256().unwrap();
        let url = "https://example.okta.com/api/v1/users";
        let proof = dpop_proof(&key, "GET", url, Some("tok"), Some("n1"), 42).unwrap();
        let (header, claims, sig) = parts(&proof);
        assert_eq!(header["typ"], "dpop+jwt");
        assert_eq!(header["alg"], "ES256");
        assert_eq!(header["jwk"], key.public_jwk());
        assert!(header["jwk"].get("d").is_none(), "no private part");
        assert_eq!(claims["htm"], "GET");
        assert_eq!(claims["htu"], url);
        assert_eq!(claims["iat"], 42);
        assert_eq!(claims["nonce"], "n1");
        // RFC 9449 §4.2: ath is base64url(SHA-256(ASCII(token))); "tok" worked out by hand.
        let digest = ring::digest::digest(&ring::digest::SHA256, b"tok");
        assert_eq!(claims["ath"], URL_SAFE_NO_PAD.encode(digest));
        assert_eq!(sig.len(), 64, "ES256 signatures are r ‖ s");
        assert!(verify_es256(&proof, &header["jwk"]));
        let token_proof = dpop_proof(&key, "POST", url, None, None, 42).unwrap();
        let (_, claims, _) = parts(&token_proof);
        assert!(claims.get("ath").is_none() && claims.get("nonce").is_none());
    }

    #[test]
    fn unusable_keys_are_named() {
        let err = |pem: &str| SigningKey::from_pem(pem).unwrap_err().to_string();
        assert!(err("hello").contains("PKCS#8"));
        assert!(
            err("-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----")
                .contains("openssl pkcs8")
        );
        assert!(
            err("-----BEGIN EC PRIVATE KEY-----\nAAAA\n-----END EC PRIVATE KEY-----")
                .contains("SEC1")
        );
        assert!(
            err("-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----")
                .contains("encrypted")
        );
        assert!(
            err("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----")
                .contains("neither an RSA")
        );
        assert!(
            err("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----").contains("not PEM")
        );
    }
}
