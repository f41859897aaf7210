//! The identity header contract (v1) between the proxy and the tool server.
//!
//! The proxy authenticates the user; the tool server only sees plain HTTP on loopback. So the
//! proxy states who the caller is in `X-MCP-Role`, `X-MCP-Subject` and `X-MCP-Email`, and binds
//! those values to this one request with an HMAC in `X-MCP-Identity`:
//!
//! ```text
//! X-MCP-Identity: v1;t=<unix seconds>;n=<nonce>;sig=<base64url(HMAC-SHA256(key, canonical))>
//! canonical = "v1\n{t}\n{nonce}\n{METHOD}\n{path}\n{role}\n{subject}\n{email}\n{mcp-session-id}"
//! ```
//!
//! The timestamp bounds how long a captured header is useful (±[`MAX_SKEW_SECS`]) and the nonce
//! makes it single-use inside that window, so a header copied from a log or a reused connection cannot be
//! replayed. Method, path and session id are signed so a header cannot be moved to another
//! request. Both sides of the contract live here so the proxy and tests share one definition.

use std::collections::{HashSet, VecDeque};
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Mutex;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// Header carrying the role the proxy mapped from the user's Okta groups.
pub const ROLE_HEADER: &str = "x-mcp-role";
/// Header carrying the Okta user id (the ID token's `sub`).
pub const SUBJECT_HEADER: &str = "x-mcp-subject";
/// Header carrying the user's email (may be empty).
pub const EMAIL_HEADER: &str = "x-mcp-email";
/// Header carrying version, timestamp, nonce and signature.
pub const IDENTITY_HEADER: &str = "x-mcp-identity";
/// The MCP session header, part of what is signed.
pub const SESSION_HEADER: &str = "mcp-session-id";

/// How far a header's timestamp may be from our clock, in seconds.
///
/// The proxy signs each header the moment it forwards the request, and both processes run in
/// one pod, so they read the same kernel clock: the only gap is the request's time between the
/// two (microseconds on loopback, seconds only under extreme overload) plus the truncation of
/// `t` to whole seconds. Ten seconds covers that with room; a shorter window also means fewer
/// nonces to remember (see [`MAX_NONCES`]). Running the two on different machines would need
/// their clocks synchronized to well under this.
pub const MAX_SKEW_SECS: i64 = 10;
/// The most nonces remembered at once: ten seconds at 100,000 requests/s (about 32 MiB). Past
/// it, requests are refused (503, retryable) rather than the cache growing without bound.
pub const MAX_NONCES: usize = 1_000_000;
/// The shortest key we accept, in bytes.
pub const MIN_KEY_LEN: usize = 32;
const NONCE_LEN: usize = 16;

type HmacSha256 = Hmac<Sha256>;

/// Why an identity header was refused. The message is safe to show to the caller.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum IdentityError {
    #[error("missing identity header {0}")]
    Missing(&'static str),
    #[error("identity header {0} is not valid text")]
    NotText(&'static str),
    #[error("identity header x-mcp-identity is malformed: {0}")]
    Malformed(&'static str),
    #[error("identity header is stale or from the future (more than {MAX_SKEW_SECS} s off)")]
    Stale,
    #[error("identity header signature does not match")]
    BadSignature,
    #[error("identity header nonce was already used")]
    Replayed,
    #[error(
        "too many requests in the identity window ({MAX_NONCES} in {MAX_SKEW_SECS} s); retry shortly"
    )]
    Busy,
    #[error("x-mcp-role is empty")]
    EmptyRole,
}

/// A key too short to be safe.
#[derive(Debug, thiserror::Error)]
#[error(
    "IDENTITY_HEADER_KEY must be at least {MIN_KEY_LEN} bytes (got {0}); generate one with `openssl rand -base64 48`"
)]
pub struct WeakKey(usize);

/// The shared HMAC key: the UTF-8 bytes of `IDENTITY_HEADER_KEY` as written.
///
/// Kept as the HMAC state after the key is absorbed, so each request clones it instead of
/// hashing the key again.
#[derive(Clone)]
pub struct IdentityKey(HmacSha256);

impl IdentityKey {
    /// Accepts the key as configured; refuses keys shorter than [`MIN_KEY_LEN`] bytes.
    pub fn new(key: &str) -> Result<Self, WeakKey> {
        if key.len() < MIN_KEY_LEN {
            return Err(WeakKey(key.len()));
        }
        match HmacSha256::new_from_slice(key.as_bytes()) {
            Ok(mac) => Ok(Self(mac)),
            // HMAC accepts keys of any length.
            Err(_) => unreachable!("HMAC takes any key length"),
        }
    }

    /// The `X-MCP-Identity` value (`v1;t=…;n=…;sig=…`) for a request by `who`, built in one
    /// allocation.
    pub fn header_value(
        &self,
        t: i64,
        nonce: &str,
        request: RequestBinding<'_>,
        who: IdentityFields<'_>,
    ) -> String {
        let sig = self.mac(t, nonce, request, who);
        let mut value = String::with_capacity(96);
        let mut digits = [0u8; 20];
        value.push_str("v1;t=");
        value.push_str(std::str::from_utf8(decimal(t, &mut digits)).unwrap_or("0"));
        value.push_str(";n=");
        value.push_str(nonce);
        value.push_str(";sig=");
        URL_SAFE_NO_PAD.encode_string(sig, &mut value);
        value
    }

    /// HMAC of the canonical form, fed field by field (no joined string is built).
    fn mac(
        &self,
        t: i64,
        nonce: &str,
        request: RequestBinding<'_>,
        identity: IdentityFields<'_>,
    ) -> [u8; 32] {
        let mut mac = self.0.clone();
        let mut digits = [0u8; 20];
        mac.update(b"v1\n");
        mac.update(decimal(t, &mut digits));
        mac.update(b"\n");
        mac.update(nonce.as_bytes());
        mac.update(b"\n");
        if request.method.bytes().any(|b| b.is_ascii_lowercase()) {
            mac.update(request.method.to_ascii_uppercase().as_bytes());
        } else {
            mac.update(request.method.as_bytes());
        }
        for field in [
            request.path,
            identity.role,
            identity.subject,
            identity.email,
            request.session_id,
        ] {
            mac.update(b"\n");
            mac.update(field.as_bytes());
        }
        mac.finalize().into_bytes().into()
    }
}

/// `n` in decimal, written into `buf` (no allocation).
fn decimal(n: i64, buf: &mut [u8; 20]) -> &[u8] {
    let negative = n < 0;
    let mut n = n.unsigned_abs();
    let mut at = buf.len();
    loop {
        at -= 1;
        buf[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    if negative {
        at -= 1;
        buf[at] = b'-';
    }
    &buf[at..]
}

impl std::fmt::Debug for IdentityKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("IdentityKey(<redacted>)")
    }
}

/// Who is calling, as the proxy vouched for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub role: String,
    pub subject: String,
    pub email: String,
}

/// The identity fields of a signature, borrowed (the signer need not own them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdentityFields<'a> {
    pub role: &'a str,
    pub subject: &'a str,
    pub email: &'a str,
}

impl Identity {
    /// The fields, borrowed.
    pub fn fields(&self) -> IdentityFields<'_> {
        IdentityFields {
            role: &self.role,
            subject: &self.subject,
            email: &self.email,
        }
    }
}

/// What one request's signature covers besides the identity.
#[derive(Debug, Clone, Copy)]
pub struct RequestBinding<'a> {
    /// HTTP method, upper case.
    pub method: &'a str,
    /// The path as the tool server receives it, without the query.
    pub path: &'a str,
    /// The `Mcp-Session-Id` request header, empty when there is none.
    pub session_id: &'a str,
}

/// The string that is signed.
pub fn canonical(t: i64, nonce: &str, request: RequestBinding<'_>, identity: &Identity) -> String {
    [
        "v1",
        &t.to_string(),
        nonce,
        &request.method.to_ascii_uppercase(),
        request.path,
        &identity.role,
        &identity.subject,
        &identity.email,
        request.session_id,
    ]
    .join("\n")
}

/// The `X-MCP-Identity` value for a request, with the given time and nonce.
pub fn sign(
    key: &IdentityKey,
    t: i64,
    nonce: &str,
    request: RequestBinding<'_>,
    identity: &Identity,
) -> String {
    key.header_value(t, nonce, request, identity.fields())
}

/// A fresh nonce: 16 random bytes, base64url without padding.
pub fn new_nonce() -> String {
    URL_SAFE_NO_PAD.encode(rand::random::<[u8; NONCE_LEN]>())
}

/// A fresh nonce written into `buf` (no allocation): 16 random bytes, base64url.
pub fn new_nonce_in(buf: &mut [u8; 22]) -> &str {
    let written = URL_SAFE_NO_PAD
        .encode_slice(rand::random::<[u8; NONCE_LEN]>(), buf)
        .unwrap_or(0);
    std::str::from_utf8(&buf[..written]).unwrap_or("")
}

/// Checks identity headers and remembers nonces for the skew window.
pub struct IdentityVerifier {
    key: IdentityKey,
    /// The nonce cache in [`NONCE_SHARDS`] parts, chosen by the nonce's low bits, so that
    /// requests on different threads rarely wait for the same lock.
    seen: [Mutex<NonceCache>; NONCE_SHARDS],
}

/// Independent parts of the nonce cache (a power of two).
const NONCE_SHARDS: usize = 16;

/// Hashes a nonce by its first 8 bytes. Only nonces of correctly signed headers are stored,
/// and the proxy draws them from the operating system's generator, so they are already
/// uniformly random: hashing them again would only cost time.
#[derive(Default)]
struct NonceHasher(u64);

impl Hasher for NonceHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes.iter().take(8) {
            self.0 = (self.0 << 8) | u64::from(b);
        }
    }

    fn write_u128(&mut self, n: u128) {
        self.0 = n as u64;
    }
}

type NonceSet = HashSet<u128, BuildHasherDefault<NonceHasher>>;

/// The nonces seen, in one bucket per header timestamp `t`.
///
/// A header is accepted only while |now − t| ≤ [`MAX_SKEW_SECS`], and its signature covers `t`
/// and the nonce together, so a replay carries the same `t`: a nonce only has to be looked up in
/// its own second's bucket, and a bucket is dropped whole once its `t` can no longer be
/// accepted. Memory is therefore the request rate × about [`MAX_SKEW_SECS`] × 16 bytes (plus the
/// table's overhead), and never more than [`MAX_NONCES`] entries.
#[derive(Default)]
struct NonceCache {
    /// Buckets by `t`, oldest first; `t` values need not arrive in order.
    buckets: VecDeque<(i64, NonceSet)>,
    len: usize,
}

impl NonceCache {
    /// Records the nonce of a header stamped `t`; `Err(Replayed)` if it was already seen.
    fn insert(&mut self, t: i64, nonce: u128, now: i64) -> Result<(), IdentityError> {
        while let Some((oldest, set)) = self.buckets.front() {
            if *oldest >= now - MAX_SKEW_SECS {
                break;
            }
            self.len -= set.len();
            self.buckets.pop_front();
        }
        let at = match self.buckets.binary_search_by_key(&t, |(bucket, _)| *bucket) {
            Ok(at) => at,
            Err(at) => {
                self.buckets.insert(at, (t, NonceSet::default()));
                at
            }
        };
        let set = &mut self.buckets[at].1;
        if set.contains(&nonce) {
            return Err(IdentityError::Replayed);
        }
        if self.len >= MAX_NONCES / NONCE_SHARDS {
            return Err(IdentityError::Busy);
        }
        set.insert(nonce);
        self.len += 1;
        Ok(())
    }
}

/// Header lookup, so the verifier does not depend on one HTTP crate's types.
pub trait HeaderSource {
    /// The header's value; `Err(())` when present but not visible ASCII.
    #[allow(clippy::result_unit_err)]
    fn header(&self, name: &str) -> Result<Option<&str>, ()>;
}

impl HeaderSource for http::HeaderMap {
    fn header(&self, name: &str) -> Result<Option<&str>, ()> {
        match self.get(name) {
            None => Ok(None),
            Some(value) => value.to_str().map(Some).map_err(|_| ()),
        }
    }
}

impl IdentityVerifier {
    /// A verifier with an empty nonce cache.
    pub fn new(key: IdentityKey) -> Self {
        Self {
            key,
            seen: std::array::from_fn(|_| Mutex::new(NonceCache::default())),
        }
    }

    /// Checks the identity headers of one request at time `now` (unix seconds).
    pub fn verify(
        &self,
        method: &str,
        path: &str,
        headers: &impl HeaderSource,
        now: i64,
    ) -> Result<Identity, IdentityError> {
        let get = |name: &'static str| -> Result<Option<&str>, IdentityError> {
            headers
                .header(name)
                .map_err(|()| IdentityError::NotText(name))
        };
        let required = |name: &'static str| -> Result<&str, IdentityError> {
            get(name)?.ok_or(IdentityError::Missing(name))
        };
        let value = required(IDENTITY_HEADER)?;
        let role = required(ROLE_HEADER)?;
        let subject = required(SUBJECT_HEADER)?;
        let email = get(EMAIL_HEADER)?.unwrap_or("");
        let session_id = get(SESSION_HEADER)?.unwrap_or("");

        let (t, nonce, nonce_bits, sig) = parse_value(value)?;
        if (now - t).abs() > MAX_SKEW_SECS {
            return Err(IdentityError::Stale);
        }
        let identity = Identity {
            role: role.to_owned(),
            subject: subject.to_owned(),
            email: email.to_owned(),
        };
        let request = RequestBinding {
            method,
            path,
            session_id,
        };
        let expected = self.key.mac(t, nonce, request, identity.fields());
        if !bool::from(expected.as_slice().ct_eq(&sig)) {
            return Err(IdentityError::BadSignature);
        }
        // Only a correctly signed nonce is remembered, so junk cannot fill the cache.
        self.seen[nonce_bits as usize % NONCE_SHARDS]
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .insert(t, nonce_bits, now)?;
        if identity.role.is_empty() {
            return Err(IdentityError::EmptyRole);
        }
        Ok(identity)
    }
}

/// Splits `v1;t=…;n=…;sig=…` into its parts, strictly.
fn parse_value(value: &str) -> Result<(i64, &str, u128, [u8; 32]), IdentityError> {
    let mut parts = value.split(';');
    if parts.next() != Some("v1") {
        return Err(IdentityError::Malformed("version must be v1"));
    }
    let mut field = |prefix: &'static str, what: &'static str| {
        parts
            .next()
            .and_then(|p| p.strip_prefix(prefix))
            .ok_or(IdentityError::Malformed(what))
    };
    let t = field("t=", "expected t=<unix seconds>")?;
    let nonce = field("n=", "expected n=<nonce>")?;
    let sig = field("sig=", "expected sig=<signature>")?;
    if parts.next().is_some() {
        return Err(IdentityError::Malformed("unexpected fields after sig"));
    }
    if t.is_empty() || t.len() > 12 || !t.bytes().all(|b| b.is_ascii_digit()) {
        return Err(IdentityError::Malformed("t must be unix seconds"));
    }
    let t: i64 = t
        .parse()
        .map_err(|_| IdentityError::Malformed("t must be unix seconds"))?;
    let mut bytes = [0u8; NONCE_LEN + 2];
    let nonce_bits = match URL_SAFE_NO_PAD.decode_slice(nonce, &mut bytes) {
        Ok(NONCE_LEN) => {
            let mut exact = [0u8; NONCE_LEN];
            exact.copy_from_slice(&bytes[..NONCE_LEN]);
            u128::from_le_bytes(exact)
        }
        _ => {
            return Err(IdentityError::Malformed(
                "nonce must be 16 bytes, base64url",
            ));
        }
    };
    // A signature of another length never matches; decoding into 32 bytes refuses it early.
    let mut signature = [0u8; 32 + 3];
    let sig = match URL_SAFE_NO_PAD.decode_slice(sig, &mut signature) {
        Ok(len) if len <= signature.len() => {
            let mut exact = [0u8; 32];
            if len != 32 {
                return Err(IdentityError::BadSignature);
            }
            exact.copy_from_slice(&signature[..32]);
            exact
        }
        Ok(_) => return Err(IdentityError::BadSignature),
        Err(base64::DecodeSliceError::OutputSliceTooSmall) => {
            return Err(IdentityError::BadSignature);
        }
        Err(_) => {
            return Err(IdentityError::Malformed(
                "sig must be base64url without padding",
            ));
        }
    };
    Ok((t, nonce, nonce_bits, sig))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The worked example of the README; the proxy's tests check the same values.
    pub(crate) const EXAMPLE_KEY: &str = "okta-mcp-example-key-never-use-in-production-00";
    const EXAMPLE_T: i64 = 1_767_225_600;
    const EXAMPLE_NONCE: &str = "AAECAwQFBgcICQoLDA0ODw";
    const EXAMPLE_HEADER: &str =
        "v1;t=1767225600;n=AAECAwQFBgcICQoLDA0ODw;sig=MJQ5rjZmoqFXMLOYeu9DsQTArVkp97usVmKBhF4i7iI";

    fn alice() -> Identity {
        Identity {
            role: "viewer".into(),
            subject: "00u1a2b3c4".into(),
            email: "alice@example.com".into(),
        }
    }

    fn post_mcp(session_id: &str) -> RequestBinding<'_> {
        RequestBinding {
            method: "POST",
            path: "/mcp",
            session_id,
        }
    }

    fn headers(identity: &Identity, value: &str, session: &str) -> http::HeaderMap {
        let mut h = http::HeaderMap::new();
        h.insert(ROLE_HEADER, identity.role.parse().unwrap());
        h.insert(SUBJECT_HEADER, identity.subject.parse().unwrap());
        h.insert(EMAIL_HEADER, identity.email.parse().unwrap());
        h.insert(IDENTITY_HEADER, value.parse().unwrap());
        if !session.is_empty() {
            h.insert(SESSION_HEADER, session.parse().unwrap());
        }
        h
    }

    fn verifier() -> IdentityVerifier {
        IdentityVerifier::new(IdentityKey::new(EXAMPLE_KEY).unwrap())
    }

    #[test]
    fn readme_worked_example() {
        let key = IdentityKey::new(EXAMPLE_KEY).unwrap();
        assert_eq!(
            canonical(EXAMPLE_T, EXAMPLE_NONCE, post_mcp("sess-1"), &alice()),
            "v1\n1767225600\nAAECAwQFBgcICQoLDA0ODw\nPOST\n/mcp\nviewer\n00u1a2b3c4\nalice@example.com\nsess-1"
        );
        let value = sign(&key, EXAMPLE_T, EXAMPLE_NONCE, post_mcp("sess-1"), &alice());
        assert_eq!(value, EXAMPLE_HEADER);
        let readme = include_str!("../../README.md");
        assert!(
            readme.contains(EXAMPLE_HEADER),
            "README shows the example header"
        );
        assert!(readme.contains(EXAMPLE_KEY), "README shows the example key");
        let got = verifier()
            .verify(
                "POST",
                "/mcp",
                &headers(&alice(), &value, "sess-1"),
                EXAMPLE_T + 5,
            )
            .unwrap();
        assert_eq!(got, alice());
    }

    #[test]
    fn replayed_nonce_is_refused_once_and_forgotten_later() {
        let v = verifier();
        let key = IdentityKey::new(EXAMPLE_KEY).unwrap();
        let value = sign(&key, 1000, EXAMPLE_NONCE, post_mcp(""), &alice());
        let h = headers(&alice(), &value, "");
        assert!(v.verify("POST", "/mcp", &h, 1000).is_ok());
        assert_eq!(
            v.verify("POST", "/mcp", &h, 1001),
            Err(IdentityError::Replayed)
        );
        assert_eq!(
            v.verify("POST", "/mcp", &h, 1000 + MAX_SKEW_SECS),
            Err(IdentityError::Replayed)
        );
        // After the window the header is stale anyway, and the cache has let the nonce go.
        assert_eq!(
            v.verify("POST", "/mcp", &h, 1000 + MAX_SKEW_SECS + 1),
            Err(IdentityError::Stale)
        );
        // A nonce in the same shard as the first (the shard is chosen by its first byte):
        // the shard drops the old second's bucket as it takes the new one.
        let mut bytes: [u8; NONCE_LEN] = rand::random();
        bytes[0] = 0;
        let same_shard = URL_SAFE_NO_PAD.encode(bytes);
        let later = sign(&key, 1100, &same_shard, post_mcp(""), &alice());
        assert!(
            v.verify("POST", "/mcp", &headers(&alice(), &later, ""), 1100)
                .is_ok()
        );
        let shards: Vec<_> = v.seen.iter().map(|s| s.lock().unwrap()).collect();
        assert_eq!(shards.iter().map(|c| c.len).sum::<usize>(), 1);
        let buckets: Vec<i64> = shards
            .iter()
            .flat_map(|c| c.buckets.iter().map(|(t, _)| *t))
            .collect();
        assert_eq!(buckets, [1100]);
    }

    #[test]
    fn the_nonce_cache_holds_one_window_whatever_the_rate() {
        let mut cache = NonceCache::default();
        let mut nonce = 0u128;
        // 2,000 requests a second for five windows: only the last window's stay.
        for now in 0..5 * MAX_SKEW_SECS {
            for _ in 0..2_000 {
                nonce += 1;
                cache
                    .insert(now, nonce.wrapping_mul(0x9e37_79b9_7f4a_7c15), now)
                    .unwrap();
            }
            assert!(cache.len <= 2_000 * (MAX_SKEW_SECS as usize + 1));
        }
        assert_eq!(cache.buckets.len(), MAX_SKEW_SECS as usize + 1);
        // Timestamps out of order (a request delayed in flight) land in their own bucket.
        let now = 5 * MAX_SKEW_SECS;
        cache.insert(now - 3, 7, now).unwrap();
        assert_eq!(cache.insert(now - 3, 7, now), Err(IdentityError::Replayed));
        assert!(
            cache
                .buckets
                .iter()
                .zip(cache.buckets.iter().skip(1))
                .all(|(a, b)| a.0 < b.0)
        );
    }

    #[test]
    fn a_full_nonce_cache_refuses_instead_of_growing() {
        let mut cache = NonceCache::default();
        // Each of the shards holds its share of the bound.
        for n in 0..(MAX_NONCES / NONCE_SHARDS) as u128 {
            cache.insert(1000, n, 1000).unwrap();
        }
        assert_eq!(
            cache.insert(1000, u128::MAX, 1000),
            Err(IdentityError::Busy)
        );
        // A replay is still called a replay, and the next window has room again.
        assert_eq!(cache.insert(1000, 5, 1000), Err(IdentityError::Replayed));
        let later = 1000 + MAX_SKEW_SECS + 1;
        assert_eq!(cache.insert(later, u128::MAX, later), Ok(()));
        assert_eq!(cache.len, 1);
    }

    #[test]
    fn tampering_with_any_signed_field_is_refused() {
        let key = IdentityKey::new(EXAMPLE_KEY).unwrap();
        let value = sign(&key, 1000, EXAMPLE_NONCE, post_mcp("s1"), &alice());
        let mut admin = alice();
        admin.role = "super-admin".into();
        let cases: Vec<(&str, &str, http::HeaderMap)> = vec![
            ("POST", "/mcp", headers(&admin, &value, "s1")),
            ("GET", "/mcp", headers(&alice(), &value, "s1")),
            ("POST", "/other", headers(&alice(), &value, "s1")),
            ("POST", "/mcp", headers(&alice(), &value, "s2")),
            ("POST", "/mcp", headers(&alice(), &value, "")),
        ];
        for (method, path, h) in cases {
            assert_eq!(
                verifier().verify(method, path, &h, 1000),
                Err(IdentityError::BadSignature),
                "{method} {path}"
            );
        }
        let wrong_key = IdentityKey::new(&"k".repeat(40)).unwrap();
        let forged = sign(&wrong_key, 1000, EXAMPLE_NONCE, post_mcp("s1"), &alice());
        assert_eq!(
            verifier().verify("POST", "/mcp", &headers(&alice(), &forged, "s1"), 1000),
            Err(IdentityError::BadSignature)
        );
    }

    #[test]
    fn stale_and_future_timestamps_are_refused() {
        let key = IdentityKey::new(EXAMPLE_KEY).unwrap();
        let w = MAX_SKEW_SECS;
        for (t, ok) in [
            (1000 - w - 1, false),
            (1000 - w, true),
            (1000 + w, true),
            (1000 + w + 1, false),
        ] {
            let value = sign(&key, t, &new_nonce(), post_mcp(""), &alice());
            let got = verifier().verify("POST", "/mcp", &headers(&alice(), &value, ""), 1000);
            assert_eq!(got.is_ok(), ok, "t={t}: {got:?}");
        }
    }

    #[test]
    fn malformed_values_get_clear_errors_not_panics() {
        let v = verifier();
        for bad in [
            "",
            "v2;t=1;n=AAECAwQFBgcICQoLDA0ODw;sig=AA",
            "v1",
            "v1;t=;n=AAECAwQFBgcICQoLDA0ODw;sig=AA",
            "v1;t=-5;n=AAECAwQFBgcICQoLDA0ODw;sig=AA",
            "v1;t=99999999999999999999;n=AAECAwQFBgcICQoLDA0ODw;sig=AA",
            "v1;t=1000;n=short;sig=AA",
            "v1;t=1000;n=AAECAwQFBgcICQoLDA0ODw;sig=***",
            "v1;t=1000;n=AAECAwQFBgcICQoLDA0ODw;sig=AA;x=1",
            "v1;n=AAECAwQFBgcICQoLDA0ODw;t=1000;sig=AA",
        ] {
            let got = v.verify("POST", "/mcp", &headers(&alice(), bad, ""), 1000);
            assert!(
                matches!(got, Err(IdentityError::Malformed(_))),
                "{bad:?}: {got:?}"
            );
        }
        let mut h = headers(&alice(), "v1", "");
        h.remove(IDENTITY_HEADER);
        assert_eq!(
            v.verify("POST", "/mcp", &h, 1000),
            Err(IdentityError::Missing(IDENTITY_HEADER))
        );
        let mut h = headers(&alice(), "v1", "");
        h.remove(ROLE_HEADER);
        assert_eq!(
            v.verify("POST", "/mcp", &h, 1000),
            Err(IdentityError::Missing(ROLE_HEADER))
        );
        let mut h = headers(&alice(), "v1", "");
        h.insert(
            SUBJECT_HEADER,
            http::HeaderValue::from_bytes(b"\xff").unwrap(),
        );
        assert_eq!(
            v.verify("POST", "/mcp", &h, 1000),
            Err(IdentityError::NotText(SUBJECT_HEADER))
        );
    }

    #[test]
    fn weak_keys_are_refused() {
        assert!(IdentityKey::new("short").is_err());
        assert!(IdentityKey::new(&"x".repeat(31)).is_err());
        assert!(IdentityKey::new(&"x".repeat(32)).is_ok());
        assert_eq!(
            format!("{:?}", IdentityKey::new(EXAMPLE_KEY).unwrap()),
            "IdentityKey(<redacted>)"
        );
    }
}
