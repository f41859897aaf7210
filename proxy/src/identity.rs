//! Signing the identity headers (contract v1) the tool server verifies.
//!
//! The tool server trusts nothing but these headers, so they are the only thing that carries a
//! user's role across the pod's loopback. The signature binds role, subject and email to one
//! request (method, path, MCP session) at one time with a single-use nonce; see the README's
//! "Identity header contract" for the exact canonical form, checked here and in the tool server
//! against the same worked example.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Header carrying the role.
pub const ROLE_HEADER: &str = "x-mcp-role";
/// Header carrying the Okta user id.
pub const SUBJECT_HEADER: &str = "x-mcp-subject";
/// Header carrying the email (may be empty).
pub const EMAIL_HEADER: &str = "x-mcp-email";
/// Header carrying version, time, nonce and signature.
pub const IDENTITY_HEADER: &str = "x-mcp-identity";
/// The shortest key accepted, in bytes.
pub const MIN_KEY_LEN: usize = 32;

/// `IDENTITY_HEADER_KEY`: its UTF-8 bytes as written are the HMAC key.
#[derive(Clone)]
pub struct IdentitySigner {
    key: Vec<u8>,
}

impl std::fmt::Debug for IdentitySigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("IdentitySigner(<redacted>)")
    }
}

/// A key shorter than [`MIN_KEY_LEN`].
#[derive(Debug, thiserror::Error)]
#[error(
    "IDENTITY_HEADER_KEY must be at least {MIN_KEY_LEN} bytes (got {0}); generate one with `openssl rand -base64 48`"
)]
pub struct WeakKey(usize);

/// The values one request's identity headers carry.
#[derive(Debug, Clone, Copy)]
pub struct SignedRequest<'a> {
    pub method: &'a str,
    /// The path the tool server receives, without the query.
    pub path: &'a str,
    pub role: &'a str,
    pub subject: &'a str,
    pub email: &'a str,
    /// The `Mcp-Session-Id` request header, empty if none.
    pub session_id: &'a str,
}

impl IdentitySigner {
    /// Accepts a key of at least 32 bytes.
    pub fn new(key: &str) -> Result<Self, WeakKey> {
        if key.len() < MIN_KEY_LEN {
            return Err(WeakKey(key.len()));
        }
        Ok(Self {
            key: key.as_bytes().to_vec(),
        })
    }

    /// The `X-MCP-Identity` value for `request` at time `t` with `nonce`.
    pub fn sign_with(&self, t: i64, nonce: &str, request: &SignedRequest<'_>) -> String {
        let canonical = [
            "v1",
            &t.to_string(),
            nonce,
            &request.method.to_ascii_uppercase(),
            request.path,
            request.role,
            request.subject,
            request.email,
            request.session_id,
        ]
        .join("\n");
        let mut mac =
            Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC takes keys of any length");
        mac.update(canonical.as_bytes());
        let sig = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
        format!("v1;t={t};n={nonce};sig={sig}")
    }

    /// The four identity headers for `request`, now, with a fresh nonce.
    pub fn headers(&self, request: &SignedRequest<'_>) -> [(&'static str, String); 4] {
        let t = chrono::Utc::now().timestamp();
        let nonce = URL_SAFE_NO_PAD.encode(rand::random::<[u8; 16]>());
        [
            (ROLE_HEADER, request.role.to_owned()),
            (SUBJECT_HEADER, request.subject.to_owned()),
            (EMAIL_HEADER, request.email.to_owned()),
            (IDENTITY_HEADER, self.sign_with(t, &nonce, request)),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readme_worked_example() {
        let signer =
            IdentitySigner::new("okta-mcp-example-key-never-use-in-production-00").unwrap();
        let request = SignedRequest {
            method: "post",
            path: "/mcp",
            role: "viewer",
            subject: "00u1a2b3c4",
            email: "alice@example.com",
            session_id: "sess-1",
        };
        let value = signer.sign_with(1_767_225_600, "AAECAwQFBgcICQoLDA0ODw", &request);
        assert_eq!(
            value,
            "v1;t=1767225600;n=AAECAwQFBgcICQoLDA0ODw;sig=MJQ5rjZmoqFXMLOYeu9DsQTArVkp97usVmKBhF4i7iI"
        );
        assert!(include_str!("../../README.md").contains(&value));
    }

    #[test]
    fn fresh_headers_have_a_new_nonce_each_time() {
        let signer = IdentitySigner::new(&"k".repeat(32)).unwrap();
        let request = SignedRequest {
            method: "GET",
            path: "/mcp",
            role: "viewer",
            subject: "s",
            email: "",
            session_id: "",
        };
        let a = signer.headers(&request);
        let b = signer.headers(&request);
        assert_eq!(a[0], (ROLE_HEADER, "viewer".to_string()));
        assert_ne!(a[3].1, b[3].1);
        let nonce = a[3]
            .1
            .split(';')
            .nth(2)
            .unwrap()
            .strip_prefix("n=")
            .unwrap();
        assert_eq!(URL_SAFE_NO_PAD.decode(nonce).unwrap().len(), 16);
    }

    #[test]
    fn weak_keys_are_refused() {
        assert!(IdentitySigner::new(&"k".repeat(31)).is_err());
        assert_eq!(
            format!("{:?}", IdentitySigner::new(&"k".repeat(32)).unwrap()),
            "IdentitySigner(<redacted>)"
        );
    }
}
