//! The tokens the proxy hands to MCP clients.
//!
//! Access tokens are compact JWTs signed with HMAC-SHA256 under a key only this proxy holds
//! (`typ: at+jwt`, audience = the canonical MCP URL). Nothing else can mint one, so an Okta ID
//! token (RS256), a token for another audience, or an `alg: none` trick fails [`AccessTokens::verify`].
//! Each carries the id of its refresh-token family (`fid`): revoking a family (reuse of a rotated
//! refresh token, a role lost at Okta) also stops its access tokens before they expire. Each
//! also carries `seen_ms`, when its subject's status and groups were read from Okta: a token seen
//! before its subject's cut-off (an Okta Event Hook, `revocations::Cutoff`) is refused.
//!
//! Refresh tokens are 32 random bytes; only their SHA-256 hash is ever stored.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::revocations::Revocations;
use crate::store::StoreError;

/// The JWT `typ` of our access tokens (RFC 9068).
const ACCESS_TOKEN_TYP: &str = "at+jwt";
/// Longer strings are not our tokens; refuse them before decoding anything.
const MAX_TOKEN_LEN: usize = 8 * 1024;

/// A key for one purpose, derived from the session secret (HMAC-SHA256 over a label), so the
/// token key, the cookie key and the CSRF key never coincide.
pub fn derive_key(secret: &[u8], purpose: &str) -> [u8; 32] {
    let mut mac = hmac_sha256(secret);
    mac.update(b"okta-mcp-proxy/v1/");
    mac.update(purpose.as_bytes());
    mac.finalize().into_bytes().into()
}

/// The public name of a derived key, carried by what it signs (a token's `kid`, a cookie's
/// prefix) so the key that checks it is found without trying each: 8 characters of
/// base64url(SHA-256(key)). It tells nothing about the key.
pub fn key_id(key: &[u8; 32]) -> String {
    URL_SAFE_NO_PAD.encode(&Sha256::digest(key)[..6])
}

/// `n` random bytes from the operating system's generator, base64url without padding.
pub fn random_token(n: usize) -> String {
    let mut bytes = vec![0u8; n];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// SHA-256 of `text`, base64url without padding (how codes, refresh tokens and secrets are stored).
pub fn sha256_b64(text: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(text.as_bytes()))
}

/// Constant-time equality of two strings.
pub fn same_text(a: &str, b: &str) -> bool {
    a.as_bytes().ct_eq(b.as_bytes()).into()
}

fn sign_with(key: &Hmac<Sha256>, signing_input: &str) -> [u8; 32] {
    let mut mac = key.clone();
    mac.update(signing_input.as_bytes());
    mac.finalize().into_bytes().into()
}

fn hmac_sha256(key: &[u8]) -> Hmac<Sha256> {
    // HMAC takes keys of any length; this cannot fail.
    match Hmac::<Sha256>::new_from_slice(key) {
        Ok(mac) => mac,
        Err(_) => unreachable!("HMAC accepts every key length"),
    }
}

/// What an access token says (the JWT claims).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessClaims {
    pub iss: String,
    /// The canonical MCP URL.
    pub aud: String,
    /// Okta user id.
    pub sub: String,
    pub email: String,
    pub role: String,
    pub client_id: String,
    pub scope: String,
    pub iat: i64,
    pub exp: i64,
    pub jti: String,
    /// The refresh-token family this token belongs to.
    pub fid: String,
    /// Unix milliseconds at which the subject's status and groups (hence `role`) were read from
    /// Okta. Absent in tokens from before it existed: `iat` counts then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seen_ms: Option<i64>,
}

impl AccessClaims {
    /// When the facts in this token were read from Okta (unix ms).
    pub fn seen(&self) -> i64 {
        self.seen_ms.unwrap_or(self.iat.saturating_mul(1000))
    }
}

/// Who an access token is for (everything but the times and ids the minter adds).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    pub subject: String,
    pub email: String,
    pub role: String,
    pub client_id: String,
    pub scope: String,
    pub family: String,
}

/// Why an access token was refused. The messages name no token content.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TokenError {
    #[error("not a token this server issued")]
    Malformed,
    #[error("token algorithm is not accepted")]
    Algorithm,
    #[error("token signature is not valid")]
    Signature,
    #[error("token issuer is not this server")]
    Issuer,
    #[error("token audience is not this MCP server")]
    Audience,
    #[error("token has expired")]
    Expired,
    #[error("token has been revoked")]
    Revoked,
    #[error("cannot check revocation: {0}")]
    Store(String),
}

impl From<StoreError> for TokenError {
    fn from(error: StoreError) -> Self {
        TokenError::Store(error.to_string())
    }
}

#[derive(Serialize, Deserialize)]
struct Header {
    alg: String,
    #[serde(default)]
    typ: Option<String>,
    /// Which key signed the token ([`key_id`]); absent in tokens from before key rotation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    kid: Option<String>,
}

/// Mints and checks our access tokens.
pub struct AccessTokens {
    /// The HMAC state with the key already absorbed: each token clones it.
    mac: Hmac<Sha256>,
    kid: String,
    /// Keys of earlier session secrets, accepted until their tokens expire: (kid, HMAC state).
    previous: Vec<(String, Hmac<Sha256>)>,
    issuer: String,
    audience: String,
}

impl AccessTokens {
    /// Tokens signed with `key`, issued by `issuer` for `audience` (the canonical MCP URL).
    pub fn new(key: [u8; 32], issuer: &str, audience: &str) -> Self {
        Self {
            mac: hmac_sha256(&key),
            kid: key_id(&key),
            previous: Vec::new(),
            issuer: issuer.to_owned(),
            audience: audience.to_owned(),
        }
    }

    /// Also accepts tokens signed with `keys` (those of previous session secrets).
    pub fn with_previous(mut self, keys: &[[u8; 32]]) -> Self {
        self.previous = keys
            .iter()
            .map(|key| (key_id(key), hmac_sha256(key)))
            .collect();
        self
    }

    /// The HMAC state for a token's `kid`: the current key's, a previous one's, or for a token
    /// without `kid` (minted before rotation existed) the current one.
    fn key_for(&self, kid: Option<&str>) -> Option<&Hmac<Sha256>> {
        match kid {
            None => Some(&self.mac),
            Some(kid) if kid == self.kid => Some(&self.mac),
            Some(kid) => self
                .previous
                .iter()
                .find(|(id, _)| id == kid)
                .map(|(_, mac)| mac),
        }
    }

    /// A new access token for `grant`, valid for `ttl` from `now` (unix seconds), whose facts
    /// were read from Okta `now`.
    pub fn mint(&self, grant: &Grant, now: i64, ttl: Duration) -> (String, AccessClaims) {
        self.mint_seen(grant, now, ttl, now.saturating_mul(1000))
    }

    /// [`mint`](Self::mint) for facts read from Okta at `seen_ms` (unix ms).
    pub fn mint_seen(
        &self,
        grant: &Grant,
        now: i64,
        ttl: Duration,
        seen_ms: i64,
    ) -> (String, AccessClaims) {
        let claims = AccessClaims {
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            sub: grant.subject.clone(),
            email: grant.email.clone(),
            role: grant.role.clone(),
            client_id: grant.client_id.clone(),
            scope: grant.scope.clone(),
            iat: now,
            exp: now.saturating_add(i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX)),
            jti: random_token(16),
            fid: grant.family.clone(),
            seen_ms: Some(seen_ms),
        };
        let header = Header {
            alg: "HS256".to_owned(),
            typ: Some(ACCESS_TOKEN_TYP.to_owned()),
            kid: Some(self.kid.clone()),
        };
        let header = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&header).unwrap_or_default());
        let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims).unwrap_or_default());
        let signing_input = format!("{header}.{payload}");
        let signature = URL_SAFE_NO_PAD.encode(self.sign(&signing_input));
        (format!("{signing_input}.{signature}"), claims)
    }

    fn sign(&self, signing_input: &str) -> [u8; 32] {
        sign_with(&self.mac, signing_input)
    }

    /// Checks form, algorithm, signature, issuer, audience and expiry (not revocation).
    pub fn decode(&self, token: &str, now: i64) -> Result<AccessClaims, TokenError> {
        if token.len() > MAX_TOKEN_LEN {
            return Err(TokenError::Malformed);
        }
        let Some((signing_input, signature)) = token.rsplit_once('.') else {
            return Err(TokenError::Malformed);
        };
        let Some((header, payload)) = signing_input.split_once('.') else {
            return Err(TokenError::Malformed);
        };
        if payload.contains('.') {
            return Err(TokenError::Malformed);
        }
        let header: Header = URL_SAFE_NO_PAD
            .decode(header)
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .ok_or(TokenError::Malformed)?;
        if header.alg != "HS256" {
            return Err(TokenError::Algorithm);
        }
        if header.typ.as_deref() != Some(ACCESS_TOKEN_TYP) {
            return Err(TokenError::Malformed);
        }
        let signature = URL_SAFE_NO_PAD
            .decode(signature)
            .map_err(|_| TokenError::Signature)?;
        let key = self
            .key_for(header.kid.as_deref())
            .ok_or(TokenError::Signature)?;
        let expected = sign_with(key, signing_input);
        if !bool::from(expected.as_slice().ct_eq(signature.as_slice())) {
            return Err(TokenError::Signature);
        }
        let claims: AccessClaims = URL_SAFE_NO_PAD
            .decode(payload)
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .ok_or(TokenError::Malformed)?;
        if !same_text(&claims.iss, &self.issuer) {
            return Err(TokenError::Issuer);
        }
        if !same_text(&claims.aud, &self.audience) {
            return Err(TokenError::Audience);
        }
        if claims.exp <= now {
            return Err(TokenError::Expired);
        }
        Ok(claims)
    }

    /// [`decode`](Self::decode) plus revocation: of the token itself, of its family, or of its
    /// subject's role (a cut-off after the token was seen).
    pub fn verify(
        &self,
        token: &str,
        now: i64,
        revocations: &Revocations,
    ) -> Result<AccessClaims, TokenError> {
        let claims = self.decode(token, now)?;
        if !revocations.is_loaded() {
            return Err(TokenError::Store(
                "the revocation list has not been loaded yet".to_owned(),
            ));
        }
        if revocations.access_revoked(&claims.jti, &claims.fid, &claims.sub, claims.seen()) {
            return Err(TokenError::Revoked);
        }
        Ok(claims)
    }
}

/// The most verified tokens remembered (one per active client is typical).
pub const VERIFIED_CACHE_CAPACITY: usize = 10_000;

/// Access tokens that passed [`AccessTokens::decode`], with what the caller made of their claims,
/// so `/mcp` does not decode and check the signature of the same token on every request.
///
/// Keyed by the whole token (compared in full, so no two tokens can share an entry); only
/// tokens that verified are ever stored, each until its own expiry, and at most
/// [`VERIFIED_CACHE_CAPACITY`] of them. Revocation is not cached: it is checked on every use.
pub struct VerifiedTokens<T> {
    entries: RwLock<HashMap<Box<str>, Verified<T>>>,
    capacity: usize,
}

struct Verified<T> {
    exp: i64,
    jti: Box<str>,
    fid: Box<str>,
    sub: Box<str>,
    seen_ms: i64,
    value: Arc<T>,
}

impl<T> Default for VerifiedTokens<T> {
    fn default() -> Self {
        Self::with_capacity(VERIFIED_CACHE_CAPACITY)
    }
}

impl<T> VerifiedTokens<T> {
    /// An empty cache holding at most `capacity` tokens.
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            entries: RwLock::new(HashMap::new()),
            capacity: capacity.max(1),
        }
    }

    /// How many tokens are remembered.
    pub fn len(&self) -> usize {
        self.read().len()
    }

    /// Whether no token is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<Box<str>, Verified<T>>> {
        self.entries
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn insert(&self, token: &str, entry: Verified<T>, now: i64) {
        let mut entries = self
            .entries
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if entries.len() >= self.capacity {
            entries.retain(|_, entry| entry.exp > now);
        }
        if entries.len() >= self.capacity {
            // Still full of live tokens: forget a tenth of them (they verify again on next use).
            let mut drop = self.capacity / 10 + 1;
            entries.retain(|_, _| {
                if drop == 0 {
                    return true;
                }
                drop -= 1;
                false
            });
        }
        entries.insert(token.into(), entry);
    }
}

impl AccessTokens {
    /// [`verify`](Self::verify), remembering what `make` built from the claims of each good
    /// token in `cache`: a token seen before costs one look-up plus the revocation check.
    pub fn verify_cached<T>(
        &self,
        cache: &VerifiedTokens<T>,
        token: &str,
        now: i64,
        revocations: &Revocations,
        make: impl FnOnce(AccessClaims) -> T,
    ) -> Result<Arc<T>, TokenError> {
        if token.len() > MAX_TOKEN_LEN {
            return Err(TokenError::Malformed);
        }
        if !revocations.is_loaded() {
            return Err(TokenError::Store(
                "the revocation list has not been loaded yet".to_owned(),
            ));
        }
        let hit = cache.read().get(token).map(|entry| {
            if entry.exp <= now {
                Err(TokenError::Expired)
            } else if revocations.access_revoked(&entry.jti, &entry.fid, &entry.sub, entry.seen_ms)
            {
                Err(TokenError::Revoked)
            } else {
                Ok(entry.value.clone())
            }
        });
        if let Some(answer) = hit {
            return answer;
        }
        let claims = self.verify(token, now, revocations)?;
        let (exp, seen_ms) = (claims.exp, claims.seen());
        let (jti, fid, sub): (Box<str>, Box<str>, Box<str>) = (
            claims.jti.as_str().into(),
            claims.fid.as_str().into(),
            claims.sub.as_str().into(),
        );
        let value = Arc::new(make(claims));
        let entry = Verified {
            exp,
            jti,
            fid,
            sub,
            seen_ms,
            value: value.clone(),
        };
        cache.insert(token, entry, now);
        Ok(value)
    }
}

/// A fresh refresh token and the hash under which it is stored.
#[derive(Debug, Clone)]
pub struct RefreshToken {
    /// Handed to the client once, never stored.
    pub token: String,
    /// SHA-256 of the token, base64url.
    pub hash: String,
}

impl RefreshToken {
    /// 32 random bytes, base64url.
    pub fn generate() -> Self {
        let token = random_token(32);
        let hash = sha256_b64(&token);
        Self { token, hash }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::MemoryStore;

    const NOW: i64 = 1_750_000_000;

    fn tokens() -> AccessTokens {
        AccessTokens::new(
            derive_key(&[7u8; 32], "access-token"),
            "https://mcp.example.com",
            "https://mcp.example.com/mcp",
        )
    }

    fn grant() -> Grant {
        Grant {
            subject: "00u1".into(),
            email: "alice@example.com".into(),
            role: "viewer".into(),
            client_id: "client-1".into(),
            scope: "mcp".into(),
            family: "fam-1".into(),
        }
    }

    fn b64(value: &serde_json::Value) -> String {
        URL_SAFE_NO_PAD.encode(value.to_string())
    }

    #[test]
    fn after_rotation_old_tokens_verify_by_kid_until_their_key_is_dropped() {
        let old_key = derive_key(&[7u8; 32], "access-token");
        let new_key = derive_key(&[8u8; 32], "access-token");
        let (old_token, _) = tokens().mint(&grant(), NOW, Duration::from_secs(900));
        let rotated = AccessTokens::new(
            new_key,
            "https://mcp.example.com",
            "https://mcp.example.com/mcp",
        )
        .with_previous(&[old_key]);
        assert!(rotated.decode(&old_token, NOW).is_ok());
        let (new_token, _) = rotated.mint(&grant(), NOW, Duration::from_secs(900));
        let header: serde_json::Value = serde_json::from_slice(
            &URL_SAFE_NO_PAD
                .decode(new_token.split('.').next().unwrap())
                .unwrap(),
        )
        .unwrap();
        assert_eq!(header["kid"], key_id(&new_key));
        // Without the old key: refused, and a kid nobody knows is refused too.
        let dropped = AccessTokens::new(
            new_key,
            "https://mcp.example.com",
            "https://mcp.example.com/mcp",
        );
        assert_eq!(dropped.decode(&old_token, NOW), Err(TokenError::Signature));
        assert!(dropped.decode(&new_token, NOW).is_ok());
        // A kid naming the old key does not make the current key check the signature.
        let (_, payload_and_sig) = old_token.split_once('.').unwrap();
        let relabelled = format!(
            "{}.{payload_and_sig}",
            b64(&serde_json::json!({"alg": "HS256", "typ": "at+jwt", "kid": key_id(&new_key)}))
        );
        assert_eq!(rotated.decode(&relabelled, NOW), Err(TokenError::Signature));
    }

    #[test]
    fn a_minted_token_decodes_to_its_claims() {
        let t = tokens();
        let (token, claims) = t.mint(&grant(), NOW, Duration::from_secs(900));
        assert_eq!(t.decode(&token, NOW + 1), Ok(claims.clone()));
        assert_eq!(claims.exp, NOW + 900);
        assert_eq!(claims.aud, "https://mcp.example.com/mcp");
        assert_eq!(claims.fid, "fam-1");
    }

    #[test]
    fn every_token_gets_its_own_id() {
        let t = tokens();
        let (_, a) = t.mint(&grant(), NOW, Duration::from_secs(900));
        let (_, b) = t.mint(&grant(), NOW, Duration::from_secs(900));
        assert_ne!(a.jti, b.jti);
    }

    #[test]
    fn expired_tokens_fail() {
        let t = tokens();
        let (token, _) = t.mint(&grant(), NOW, Duration::from_secs(900));
        assert_eq!(t.decode(&token, NOW + 900), Err(TokenError::Expired));
        assert_eq!(t.decode(&token, NOW + 10_000), Err(TokenError::Expired));
    }

    #[test]
    fn another_key_audience_or_issuer_fails() {
        let (token, _) = tokens().mint(&grant(), NOW, Duration::from_secs(900));
        let other_key = AccessTokens::new(
            derive_key(&[8u8; 32], "access-token"),
            "https://mcp.example.com",
            "https://mcp.example.com/mcp",
        );
        assert_eq!(other_key.decode(&token, NOW), Err(TokenError::Signature));
        let other_audience = AccessTokens::new(
            derive_key(&[7u8; 32], "access-token"),
            "https://mcp.example.com",
            "https://other.example.com/mcp",
        );
        assert_eq!(
            other_audience.decode(&token, NOW),
            Err(TokenError::Audience)
        );
        let other_issuer = AccessTokens::new(
            derive_key(&[7u8; 32], "access-token"),
            "https://evil.example.com",
            "https://mcp.example.com/mcp",
        );
        assert_eq!(other_issuer.decode(&token, NOW), Err(TokenError::Issuer));
    }

    #[test]
    fn a_changed_payload_fails_the_signature() {
        let t = tokens();
        let (token, claims) = t.mint(&grant(), NOW, Duration::from_secs(900));
        let parts: Vec<&str> = token.split('.').collect();
        let mut raised = serde_json::to_value(&claims).unwrap();
        raised["role"] = "super-admin".into();
        let forged = format!("{}.{}.{}", parts[0], b64(&raised), parts[2]);
        assert_eq!(t.decode(&forged, NOW), Err(TokenError::Signature));
    }

    #[test]
    fn foreign_algorithms_fail() {
        let t = tokens();
        let (_, claims) = t.mint(&grant(), NOW, Duration::from_secs(900));
        let payload = b64(&serde_json::to_value(&claims).unwrap());
        // An Okta ID token: RS256 with some signature.
        let rs256 = format!(
            "{}.{payload}.{}",
            b64(&serde_json::json!({"alg": "RS256", "kid": "k1", "typ": "JWT"})),
            URL_SAFE_NO_PAD.encode([1u8; 256])
        );
        assert_eq!(t.decode(&rs256, NOW), Err(TokenError::Algorithm));
        let none = format!("{}.{payload}.", b64(&serde_json::json!({"alg": "none"})));
        assert_eq!(t.decode(&none, NOW), Err(TokenError::Algorithm));
        // HS256 but a plain JWT type (not an access token of ours)
        let plain = format!(
            "{}.{payload}.AAAA",
            b64(&serde_json::json!({"alg": "HS256", "typ": "JWT"}))
        );
        assert_eq!(t.decode(&plain, NOW), Err(TokenError::Malformed));
    }

    #[test]
    fn junk_is_malformed_not_a_panic() {
        let t = tokens();
        for junk in [
            "",
            ".",
            "..",
            "a.b.c",
            "a.b.c.d",
            "not a token",
            "ü.ö.ä",
            "eyJhbGciOiJIUzI1NiJ9",
            "eyJhbGciOiJIUzI1NiIsInR5cCI6ImF0K2p3dCJ9.e30.",
            "eyJhbGciOiJIUzI1NiIsInR5cCI6ImF0K2p3dCJ9.e30.%%%",
        ] {
            assert!(t.decode(junk, NOW).is_err(), "{junk:?}");
        }
        assert_eq!(t.decode(&"a".repeat(9000), NOW), Err(TokenError::Malformed));
    }

    #[tokio::test]
    async fn revoking_a_token_or_its_family_stops_it() {
        let t = tokens();
        let revocations = Revocations::new(std::sync::Arc::new(MemoryStore::default()));
        let now = chrono::Utc::now().timestamp();
        let (live, live_claims) = t.mint(&grant(), now, Duration::from_secs(900));
        // Not loaded yet: no answer rather than a guess.
        assert!(matches!(
            t.verify(&live, now, &revocations),
            Err(TokenError::Store(_))
        ));
        revocations.ensure_loaded().await.unwrap();
        assert!(t.verify(&live, now, &revocations).is_ok());
        revocations
            .revoke_token(&live_claims.jti, Duration::from_secs(900))
            .await
            .unwrap();
        assert_eq!(t.verify(&live, now, &revocations), Err(TokenError::Revoked));

        let other = Grant {
            family: "fam-2".into(),
            ..grant()
        };
        let (second, _) = t.mint(&other, now, Duration::from_secs(900));
        assert!(t.verify(&second, now, &revocations).is_ok());
        revocations
            .revoke_family("fam-2", Duration::from_secs(60))
            .await
            .unwrap();
        assert_eq!(
            t.verify(&second, now, &revocations),
            Err(TokenError::Revoked)
        );
    }

    #[tokio::test]
    async fn a_cached_token_is_still_checked_for_revocation_and_expiry() {
        let t = tokens();
        let cache = VerifiedTokens::with_capacity(100);
        let revocations = Revocations::new(std::sync::Arc::new(MemoryStore::default()));
        revocations.ensure_loaded().await.unwrap();
        let now = chrono::Utc::now().timestamp();
        let (token, claims) = t.mint(&grant(), now, Duration::from_secs(60));
        let mut made = 0;
        for _ in 0..3 {
            let role = t
                .verify_cached(&cache, &token, now, &revocations, |c| {
                    made += 1;
                    c.role
                })
                .unwrap();
            assert_eq!(*role, "viewer");
        }
        assert_eq!(made, 1, "decoded once, then answered from the cache");
        assert_eq!(cache.len(), 1);
        // Expiry is checked on each use, cached or not.
        assert_eq!(
            t.verify_cached(&cache, &token, now + 60, &revocations, |c| c.role),
            Err(TokenError::Expired)
        );
        // So is revocation, of the token or of its family.
        revocations
            .revoke_token(&claims.jti, Duration::from_secs(60))
            .await
            .unwrap();
        assert_eq!(
            t.verify_cached(&cache, &token, now, &revocations, |c| c.role),
            Err(TokenError::Revoked)
        );
        let (other, _) = t.mint(
            &Grant {
                family: "fam-9".into(),
                ..grant()
            },
            now,
            Duration::from_secs(60),
        );
        assert!(
            t.verify_cached(&cache, &other, now, &revocations, |c| c.role)
                .is_ok()
        );
        revocations
            .revoke_family("fam-9", Duration::from_secs(60))
            .await
            .unwrap();
        assert_eq!(
            t.verify_cached(&cache, &other, now, &revocations, |c| c.role),
            Err(TokenError::Revoked)
        );
    }

    #[tokio::test]
    async fn only_good_tokens_are_cached_and_the_cache_is_bounded() {
        let t = tokens();
        let cache = VerifiedTokens::with_capacity(50);
        let revocations = Revocations::new(std::sync::Arc::new(MemoryStore::default()));
        revocations.ensure_loaded().await.unwrap();
        let now = chrono::Utc::now().timestamp();
        let (token, _) = t.mint(&grant(), now, Duration::from_secs(60));
        // A changed signature, a token of another key, junk: refused and never remembered.
        let at = token.len() - 10;
        let flipped = if &token[at..=at] == "A" { "B" } else { "A" };
        let forged = format!("{}{flipped}{}", &token[..at], &token[at + 1..]);
        let (foreign, _) = AccessTokens::new(
            derive_key(&[9u8; 32], "access-token"),
            "https://mcp.example.com",
            "https://mcp.example.com/mcp",
        )
        .mint(&grant(), now, Duration::from_secs(60));
        for bad in [forged.as_str(), foreign.as_str(), "junk", ""] {
            assert!(
                t.verify_cached(&cache, bad, now, &revocations, |c| c.sub)
                    .is_err()
            );
        }
        assert!(cache.is_empty());
        for _ in 0..500 {
            let (token, _) = t.mint(&grant(), now, Duration::from_secs(60));
            t.verify_cached(&cache, &token, now, &revocations, |c| c.sub)
                .unwrap();
            assert!(cache.len() <= 50);
        }
    }

    #[test]
    fn refresh_tokens_are_random_and_stored_as_hashes() {
        let a = RefreshToken::generate();
        let b = RefreshToken::generate();
        assert_ne!(a.token, b.token);
        assert_eq!(URL_SAFE_NO_PAD.decode(&a.token).unwrap().len(), 32);
        assert_eq!(a.hash, sha256_b64(&a.token));
        assert_ne!(a.hash, a.token);
    }

    #[test]
    fn derived_keys_differ_by_purpose() {
        assert_ne!(derive_key(b"secret", "a"), derive_key(b"secret", "b"));
        assert_eq!(derive_key(b"secret", "a"), derive_key(b"secret", "a"));
    }
}
