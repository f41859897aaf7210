//! Signing the identity headers the tool server verifies.
//!
//! The tool server trusts nothing but these headers, so they are the only thing that carries a
//! user's role across the pod's loopback. The signature binds role, subject and email to one
//! request (method, path, MCP session) at one time with a single-use nonce. The proxy signs the
//! contract's v1 (DESIGN.md: what any MCP server put behind the proxy verifies) whenever v1 can
//! carry the values, that is when they are visible ASCII; a value it cannot carry (a non-ASCII
//! Okta email) goes as v2, percent-encoded, so that user is served exactly instead of refused.
//! See the README's "Identity header contract" for both canonical forms, checked here and in
//! the tool server against the same worked examples.

use http::{HeaderName, HeaderValue};
use okta_mcp_common::identity::{
    self, IdentityError, IdentityFields, IdentityKey, RequestBinding, SignedHeaders,
};

/// Header carrying the role.
pub const ROLE_HEADER: HeaderName = HeaderName::from_static(identity::ROLE_HEADER);
/// Header carrying the Okta user id.
pub const SUBJECT_HEADER: HeaderName = HeaderName::from_static(identity::SUBJECT_HEADER);
/// Header carrying the email (may be empty).
pub const EMAIL_HEADER: HeaderName = HeaderName::from_static(identity::EMAIL_HEADER);
/// Header carrying version, time, nonce and signature.
pub const IDENTITY_HEADER: HeaderName = HeaderName::from_static(identity::IDENTITY_HEADER);
/// The shortest key accepted, in bytes.
pub const MIN_KEY_LEN: usize = identity::MIN_KEY_LEN;

/// `IDENTITY_HEADER_KEY`: its UTF-8 bytes as written are the HMAC key.
#[derive(Clone, Debug)]
pub struct IdentitySigner {
    key: IdentityKey,
}

pub use identity::WeakKey;

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

impl<'a> SignedRequest<'a> {
    fn binding(&self) -> RequestBinding<'a> {
        RequestBinding {
            method: self.method,
            path: self.path,
            session_id: self.session_id,
        }
    }

    fn fields(&self) -> IdentityFields<'a> {
        IdentityFields {
            role: self.role,
            subject: self.subject,
            email: self.email,
        }
    }
}

/// A value the proxy cannot send as a header (a control character in a claim).
#[derive(Debug, thiserror::Error)]
#[error("{0} cannot be sent in an identity header")]
pub struct Unsendable(&'static str);

impl IdentitySigner {
    /// Accepts a key of at least 32 bytes.
    pub fn new(key: &str) -> Result<Self, WeakKey> {
        Ok(Self {
            key: IdentityKey::new(key)?,
        })
    }

    /// The v2 header values for `request` at `t_ms` (unix milliseconds) with `nonce`: role,
    /// subject and email percent-encoded, and `X-MCP-Identity`.
    pub fn sign_with<'a>(
        &self,
        t_ms: i64,
        nonce: &str,
        request: &SignedRequest<'a>,
    ) -> Result<SignedHeaders<'a>, Unsendable> {
        self.key
            .sign_v2(t_ms, nonce, request.binding(), request.fields())
            .map_err(|error| match error {
                IdentityError::BadEncoding { header, .. } if header == identity::ROLE_HEADER => {
                    Unsendable("the role")
                }
                IdentityError::BadEncoding { header, .. } if header == identity::SUBJECT_HEADER => {
                    Unsendable("the subject")
                }
                _ => Unsendable("the email"),
            })
    }

    /// The four identity headers for `request`, now, with a fresh nonce: v1 when the values
    /// are visible ASCII, else v2.
    pub fn headers(
        &self,
        request: &SignedRequest<'_>,
    ) -> Result<[(HeaderName, HeaderValue); 4], Unsendable> {
        let mut nonce = [0u8; 22];
        let nonce = identity::new_nonce_in(&mut nonce);
        let now_ms = identity::unix_millis();
        if [request.role, request.subject, request.email]
            .iter()
            .all(|value| value.bytes().all(|b| b.is_ascii_graphic()))
        {
            let signature = self.key.header_value(
                now_ms.div_euclid(1000),
                nonce,
                request.binding(),
                request.fields(),
            );
            // Visible ASCII, so these conversions hold.
            let value =
                |text: &str, what| HeaderValue::from_str(text).map_err(|_| Unsendable(what));
            return Ok([
                (ROLE_HEADER, value(request.role, "the role")?),
                (SUBJECT_HEADER, value(request.subject, "the subject")?),
                (EMAIL_HEADER, value(request.email, "the email")?),
                (
                    IDENTITY_HEADER,
                    HeaderValue::try_from(signature).map_err(|_| Unsendable("the signature"))?,
                ),
            ]);
        }
        let signed = self.sign_with(now_ms, nonce, request)?;
        // Encoded values are visible ASCII, so these conversions hold.
        let value = |text: &str, what| HeaderValue::from_str(text).map_err(|_| Unsendable(what));
        Ok([
            (ROLE_HEADER, value(&signed.role, "the role")?),
            (SUBJECT_HEADER, value(&signed.subject, "the subject")?),
            (EMAIL_HEADER, value(&signed.email, "the email")?),
            (
                IDENTITY_HEADER,
                HeaderValue::try_from(signed.identity).map_err(|_| Unsendable("the signature"))?,
            ),
        ])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    #[test]
    fn readme_worked_example() {
        let signer =
            IdentitySigner::new("okta-mcp-example-key-never-use-in-production-00").unwrap();
        let request = SignedRequest {
            method: "post",
            path: "/mcp",
            role: "viewer",
            subject: "00u5z6o7e8",
            email: "zoë.müller@example.com",
            session_id: "sess-1",
        };
        let signed = signer
            .sign_with(1_767_225_600_123, "AAECAwQFBgcICQoLDA0ODw", &request)
            .unwrap();
        assert_eq!(signed.email, "zo%C3%AB.m%C3%BCller@example.com");
        assert_eq!(
            signed.identity,
            "v2;t=1767225600123;n=AAECAwQFBgcICQoLDA0ODw;sig=6nckixiWrBgjnPxGAjD9nd5J5Eozsopm0vSMkyZnjfs"
        );
        let readme = include_str!("../../README.md");
        assert!(readme.contains(&signed.identity));
        assert!(readme.contains(&*signed.email));
    }

    #[test]
    fn non_ascii_values_are_sent_encoded_and_control_characters_not_at_all() {
        let signer = IdentitySigner::new(&"k".repeat(32)).unwrap();
        let mut request = SignedRequest {
            method: "POST",
            path: "/mcp",
            role: "viewer",
            subject: "00u1",
            email: "zoë@example.com",
            session_id: "",
        };
        let headers = signer.headers(&request).unwrap();
        assert_eq!(headers[2].1, "zo%C3%AB@example.com");
        request.email = "x\r\nx-mcp-role: super-admin";
        assert_eq!(
            signer.headers(&request).unwrap_err().to_string(),
            "the email cannot be sent in an identity header"
        );
        request.email = "";
        request.subject = "a\nb";
        assert_eq!(
            signer.headers(&request).unwrap_err().to_string(),
            "the subject cannot be sent in an identity header"
        );
    }

    #[test]
    fn ascii_values_go_as_the_design_contracts_v1_and_others_as_v2() {
        let signer = IdentitySigner::new(&"k".repeat(32)).unwrap();
        let mut request = SignedRequest {
            method: "POST",
            path: "/mcp",
            role: "viewer",
            subject: "00u1",
            email: "alice@example.com",
            session_id: "",
        };
        let ascii = signer.headers(&request).unwrap();
        assert!(
            ascii[3].1.to_str().unwrap().starts_with("v1;t="),
            "{:?}",
            ascii[3].1
        );
        assert_eq!(ascii[2].1, "alice@example.com");
        request.email = "zoë@example.com";
        let encoded = signer.headers(&request).unwrap();
        assert!(encoded[3].1.to_str().unwrap().starts_with("v2;t="));
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
        let a = signer.headers(&request).unwrap();
        let b = signer.headers(&request).unwrap();
        assert_eq!(a[0], (ROLE_HEADER, HeaderValue::from_static("viewer")));
        assert_ne!(a[3].1, b[3].1);
        let nonce = a[3]
            .1
            .to_str()
            .unwrap()
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
            "IdentitySigner { key: IdentityKey(<redacted>) }"
        );
    }
}
