//! One-time confirmation tokens for write tools, for clients that cannot ask a person through
//! MCP elicitation.
//!
//! The first call of a write tool changes nothing: it says what would happen and returns a
//! token; the second call, with the same arguments and the token, does it. The token is
//! `okc1.<expiry ms>.<nonce>.<mac>`: an HMAC-SHA256 over the expiry, the nonce, the subject (the
//! caller's verified identity), the tool, the target the first call resolved and the arguments
//! as that call parsed them. So it is good for exactly that call by that person, for
//! [`TOKEN_LIFETIME`], and once: a redeemed nonce is remembered here until the token expires.
//!
//! Replicas: `serve` derives the key from `IDENTITY_HEADER_KEY`, so a token issued by one
//! replica is accepted by another. The used nonces live in each replica's memory, so within
//! the two minutes the same person could redeem one token once per replica, which repeats the
//! same write on the same target: every write tool here is a no-op or refused by Okta the
//! second time (a suspended user cannot be suspended again), so nothing more happens. `stdio`
//! has no shared key and uses a random one per process.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// How long a confirmation token is good for.
pub const TOKEN_LIFETIME: Duration = Duration::from_secs(120);
/// Version prefix of the token.
const PREFIX: &str = "okc1";
/// Longest token accepted: a real one is about 80 characters.
const MAX_TOKEN_LEN: usize = 200;
/// Separates the key derived here from any other use of the identity-header key.
const KEY_LABEL: &[u8] = b"okta-mcp write confirmation v1";

/// What one token is bound to.
#[derive(Debug, Clone, Copy)]
pub struct Binding<'a> {
    /// The caller's subject (the Okta user id from the verified identity headers).
    pub subject: &'a str,
    /// The tool's name.
    pub tool: &'a str,
    /// The Okta ids the first call resolved (user, group, factor), so a login that names
    /// someone else by the second call does not carry the confirmation over.
    pub target: &'a str,
    /// The tool's arguments as parsed, without the token (a canonical JSON text).
    pub arguments: &'a str,
}

/// Why a token does not confirm a call; each message says what to do instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error(
        "the confirmation token is malformed; call again without `confirmation` to get a new one"
    )]
    Malformed,
    #[error(
        "the confirmation token has expired (tokens last {} s); call again without \
         `confirmation` to get a new one", TOKEN_LIFETIME.as_secs()
    )]
    Expired,
    #[error(
        "the confirmation token does not match this call: it was issued to someone else, for \
         another tool, target or arguments, or altered; call again without `confirmation` to \
         get one for this call"
    )]
    Mismatch,
    #[error(
        "the confirmation token was already used; call again without `confirmation` to get a \
         new one"
    )]
    Used,
}

impl TokenError {
    /// A short name for the audit line.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Malformed => "malformed",
            Self::Expired => "expired",
            Self::Mismatch => "mismatch",
            Self::Used => "used",
        }
    }
}

/// Issues and redeems confirmation tokens with one key, remembering redeemed ones.
pub struct Confirmations {
    key: [u8; 32],
    /// Redeemed nonces and when their token expires (ms since the epoch).
    used: Mutex<HashMap<[u8; 16], i64>>,
}

impl std::fmt::Debug for Confirmations {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Confirmations").finish_non_exhaustive()
    }
}

impl Confirmations {
    /// A random key: tokens are good only in this process.
    pub fn random() -> Self {
        let mut key = [0u8; 32];
        rand::rng().fill_bytes(&mut key);
        Self::with_key(key)
    }

    /// A key derived from `secret` (the identity-header key), shared by every replica.
    pub fn derived_from(secret: &[u8]) -> Self {
        let mut mac = HmacSha256::new_from_slice(secret).expect("HMAC takes any key length");
        mac.update(KEY_LABEL);
        Self::with_key(mac.finalize().into_bytes().into())
    }

    fn with_key(key: [u8; 32]) -> Self {
        Self {
            key,
            used: Mutex::new(HashMap::new()),
        }
    }

    fn mac(&self, expiry_ms: i64, nonce: &[u8], binding: &Binding<'_>) -> HmacSha256 {
        let mut mac = HmacSha256::new_from_slice(&self.key).expect("HMAC takes any key length");
        // Length-prefixed fields: no two different bindings give the same input.
        for field in [
            PREFIX.as_bytes(),
            expiry_ms.to_string().as_bytes(),
            nonce,
            binding.subject.as_bytes(),
            binding.tool.as_bytes(),
            binding.target.as_bytes(),
            binding.arguments.as_bytes(),
        ] {
            mac.update(&(field.len() as u64).to_be_bytes());
            mac.update(field);
        }
        mac
    }

    /// A token for `binding`, good until `now_ms` + [`TOKEN_LIFETIME`].
    pub fn issue(&self, binding: &Binding<'_>, now_ms: i64) -> String {
        let mut nonce = [0u8; 16];
        rand::rng().fill_bytes(&mut nonce);
        let expiry = now_ms + TOKEN_LIFETIME.as_millis() as i64;
        let tag = self.mac(expiry, &nonce, binding).finalize().into_bytes();
        format!(
            "{PREFIX}.{expiry}.{}.{}",
            URL_SAFE_NO_PAD.encode(nonce),
            URL_SAFE_NO_PAD.encode(tag)
        )
    }

    /// Checks `token` against `binding` and spends it; after `Ok` the same token never
    /// confirms anything again in this process.
    pub fn redeem(
        &self,
        token: &str,
        binding: &Binding<'_>,
        now_ms: i64,
    ) -> Result<(), TokenError> {
        let token = token.trim();
        if token.len() > MAX_TOKEN_LEN {
            return Err(TokenError::Malformed);
        }
        let mut parts = token.split('.');
        let (Some(PREFIX), Some(expiry), Some(nonce), Some(tag), None) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return Err(TokenError::Malformed);
        };
        let expiry: i64 = expiry
            .bytes()
            .all(|b| b.is_ascii_digit())
            .then(|| expiry.parse().ok())
            .flatten()
            .ok_or(TokenError::Malformed)?;
        let nonce: [u8; 16] = URL_SAFE_NO_PAD
            .decode(nonce)
            .ok()
            .and_then(|n| n.try_into().ok())
            .ok_or(TokenError::Malformed)?;
        let tag = URL_SAFE_NO_PAD
            .decode(tag)
            .map_err(|_| TokenError::Malformed)?;
        // The signature first: an altered expiry is a mismatch, not "expired".
        self.mac(expiry, &nonce, binding)
            .verify_slice(&tag)
            .map_err(|_| TokenError::Mismatch)?;
        if now_ms >= expiry {
            return Err(TokenError::Expired);
        }
        let mut used = self
            .used
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        used.retain(|_, until| *until > now_ms);
        if used.insert(nonce, expiry).is_some() {
            return Err(TokenError::Used);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_800_000_000_000;

    fn binding<'a>(subject: &'a str, tool: &'a str, arguments: &'a str) -> Binding<'a> {
        Binding {
            subject,
            tool,
            target: "00u1",
            arguments,
        }
    }

    #[test]
    fn a_token_confirms_its_call_once() {
        let c = Confirmations::random();
        let b = binding("00uadmin", "suspend_okta_user", r#"{"user_id":"00u1"}"#);
        let token = c.issue(&b, NOW);
        assert!(
            token.starts_with("okc1.") && token.len() < MAX_TOKEN_LEN,
            "{token}"
        );
        assert_eq!(c.redeem(&token, &b, NOW + 1_000), Ok(()));
        assert_eq!(c.redeem(&token, &b, NOW + 2_000), Err(TokenError::Used));
    }

    #[test]
    fn a_token_is_bound_to_subject_tool_target_and_arguments() {
        let c = Confirmations::random();
        let b = binding("00uadmin", "suspend_okta_user", r#"{"user_id":"00u1"}"#);
        let token = c.issue(&b, NOW);
        for other in [
            binding("00uother", "suspend_okta_user", r#"{"user_id":"00u1"}"#),
            binding("00uadmin", "unsuspend_okta_user", r#"{"user_id":"00u1"}"#),
            binding("00uadmin", "suspend_okta_user", r#"{"user_id":"00u2"}"#),
            Binding {
                target: "00u2",
                ..b
            },
        ] {
            assert_eq!(c.redeem(&token, &other, NOW), Err(TokenError::Mismatch));
        }
        // A mismatch does not spend the token.
        assert_eq!(c.redeem(&token, &b, NOW), Ok(()));
    }

    #[test]
    fn field_boundaries_cannot_be_shifted() {
        let c = Confirmations::random();
        let b = binding("ab", "c", "{}");
        let token = c.issue(&b, NOW);
        assert_eq!(
            c.redeem(&token, &binding("a", "bc", "{}"), NOW),
            Err(TokenError::Mismatch)
        );
    }

    #[test]
    fn an_expired_or_altered_token_is_refused() {
        let c = Confirmations::random();
        let b = binding("00uadmin", "suspend_okta_user", "{}");
        let token = c.issue(&b, NOW);
        let lifetime = TOKEN_LIFETIME.as_millis() as i64;
        assert_eq!(
            c.redeem(&token, &b, NOW + lifetime),
            Err(TokenError::Expired)
        );
        // Moving the expiry breaks the signature.
        let later = token.replacen(
            &(NOW + lifetime).to_string(),
            &(NOW + 10 * lifetime).to_string(),
            1,
        );
        assert_ne!(later, token);
        assert_eq!(c.redeem(&later, &b, NOW), Err(TokenError::Mismatch));
        // One character of the signature changed.
        let mut flipped = token.clone().into_bytes();
        let last = flipped.len() - 2;
        flipped[last] = if flipped[last] == b'A' { b'B' } else { b'A' };
        let flipped = String::from_utf8(flipped).unwrap();
        assert_eq!(c.redeem(&flipped, &b, NOW), Err(TokenError::Mismatch));
        // A token of another key (another process without the shared key).
        let other = Confirmations::random().issue(&b, NOW);
        assert_eq!(c.redeem(&other, &b, NOW), Err(TokenError::Mismatch));
    }

    #[test]
    fn garbage_is_malformed_never_a_panic() {
        let c = Confirmations::random();
        let b = binding("s", "t", "{}");
        let long = "x".repeat(10_000);
        for bad in [
            "",
            "okc1",
            "okc1...",
            "okc1.1.2.3.4",
            "okc2.1.AAAAAAAAAAAAAAAAAAAAAA.AAAA",
            "okc1.-5.AAAAAAAAAAAAAAAAAAAAAA.AAAA",
            "okc1.+5.AAAAAAAAAAAAAAAAAAAAAA.AAAA",
            "okc1.99999999999999999999999.AAAAAAAAAAAAAAAAAAAAAA.AAAA",
            "okc1.5.AAAA.AAAA",
            "okc1.5.AAAAAAAAAAAAAAAAAAAAAA.!!!",
            "okc1.5.ééé.AAAA",
            long.as_str(),
        ] {
            assert_eq!(c.redeem(bad, &b, NOW), Err(TokenError::Malformed), "{bad}");
        }
    }

    #[test]
    fn replicas_sharing_the_identity_key_accept_each_others_tokens() {
        let a = Confirmations::derived_from(b"identity-header-key-0123456789abcdef");
        let b = Confirmations::derived_from(b"identity-header-key-0123456789abcdef");
        let other = Confirmations::derived_from(b"another-identity-key-0123456789abcdef");
        let binding = binding("s", "t", "{}");
        let token = a.issue(&binding, NOW);
        assert_eq!(
            other.redeem(&token, &binding, NOW),
            Err(TokenError::Mismatch)
        );
        assert_eq!(b.redeem(&token, &binding, NOW), Ok(()));
        assert_eq!(b.redeem(&token, &binding, NOW), Err(TokenError::Used));
    }

    #[test]
    fn used_nonces_are_forgotten_once_their_token_expired() {
        let c = Confirmations::random();
        let b = binding("s", "t", "{}");
        for i in 0..50 {
            let token = c.issue(&b, NOW + i);
            c.redeem(&token, &b, NOW + i).unwrap();
        }
        let later = NOW + TOKEN_LIFETIME.as_millis() as i64 + 100;
        let token = c.issue(&b, later);
        c.redeem(&token, &b, later).unwrap();
        assert_eq!(c.used.lock().unwrap().len(), 1);
    }
}
