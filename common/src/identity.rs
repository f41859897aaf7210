//! The identity header contract between the proxy and the tool server: v2, which the proxy
//! sends, and v1, still accepted as first documented.
//!
//! The proxy authenticates the user; the tool server only sees plain HTTP on loopback. So the
//! proxy states who the caller is in `X-MCP-Role`, `X-MCP-Subject` and `X-MCP-Email`, and binds
//! those values to this one request with an HMAC in `X-MCP-Identity`:
//!
//! ```text
//! X-MCP-Identity: v2;t=<unix milliseconds>;n=<nonce>;sig=<base64url(HMAC-SHA256(key, canonical))>
//! canonical = "v2\n{t}\n{nonce}\n{METHOD}\n{path}\n{role}\n{subject}\n{email}\n{mcp-session-id}"
//! ```
//!
//! The timestamp bounds how long a captured header is useful (±[`MAX_SKEW_SECS`]) and the nonce
//! makes it single-use inside that window, so a header copied from a log or a reused connection
//! cannot be replayed. Method, path and session id are signed so a header cannot be moved to
//! another request. Both sides of the contract live here so the proxy and tests share one
//! definition.
//!
//! **Values are percent-encoded (v2).** Okta emails (and names a clients file gives as subjects)
//! may be any UTF-8, and an HTTP header value is visible ASCII. So in v2 role, subject and email
//! are sent as their UTF-8 bytes with every byte outside visible ASCII (`!`…`~`), and `%` itself,
//! written `%XX` (`zoë.müller@example.com` → `zo%C3%AB.m%C3%BCller@example.com`); any other
//! ASCII value, such as `alice@example.com`, is sent as it is. The signature covers the values
//! exactly as sent (encoded), so the verifier checks the bytes it received before decoding
//! anything, and the canonical form never holds a line break. A value holding a control
//! character is not sent at all. Decoding refuses a `%` not followed by two hex digits, bytes
//! that are not UTF-8, raw bytes that should have been encoded, and control characters.
//!
//! **Restarts (both versions).** The nonces are remembered in memory only, so a restarted tool
//! server would accept once more a header used just before the restart. The verifier therefore
//! refuses every header whose `t` is not after the moment it was created (at start-up, before the
//! listener opens): a header captured before a restart was signed before it, so it is refused, and
//! any header signed after start has a later `t`. v2's `t` is in milliseconds, so that is exact.
//! v1's is in whole seconds: a header signed in the second the tool server started could be a
//! capture from just before the restart or a fresh request. So v1 headers of that second are
//! refused too, and the tool server opens its listener only when the next second begins
//! ([`IdentityVerifier::listen_after`]): every v1 header signed for a request it can receive
//! then carries a later second, and none of the first requests after a start is turned away.
//!
//! v1 differs from v2 in three ways only: the tag `v1`, `t` in whole seconds, and values sent and
//! signed as they are (visible ASCII only, `%` meaning itself).

use std::borrow::Cow;
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
    #[error(
        "identity header {0} is not visible ASCII (its value must be sent percent-encoded as UTF-8)"
    )]
    NotText(&'static str),
    #[error("identity header {header} is not percent-encoded UTF-8: {why}")]
    BadEncoding {
        header: &'static str,
        why: &'static str,
    },
    #[error("identity header x-mcp-identity is malformed: {0}")]
    Malformed(&'static str),
    #[error("identity header is stale or from the future (more than {MAX_SKEW_SECS} s off)")]
    Stale,
    #[error("identity header signature does not match")]
    BadSignature,
    #[error("identity header nonce was already used")]
    Replayed,
    #[error(
        "identity header was signed before this tool server started (a header captured earlier \
         cannot be replayed after a restart); the proxy signs every request afresh"
    )]
    SignedBeforeStart,
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

    /// The v1 `X-MCP-Identity` value (`v1;t=<seconds>;n=…;sig=…`) for a request by `who`, whose
    /// values are sent as they are; built in one allocation. The proxy sends v2
    /// ([`sign_v2`](Self::sign_v2)); v1 stays for the documented example and older signers.
    pub fn header_value(
        &self,
        t: i64,
        nonce: &str,
        request: RequestBinding<'_>,
        who: IdentityFields<'_>,
    ) -> String {
        self.value(Version::V1, t, nonce, request, who)
    }

    /// The four v2 identity header values for a request by `who` at `t_ms` (unix milliseconds):
    /// role, subject and email percent-encoded, and the signature over those encoded values.
    /// Refuses a value holding a control character.
    pub fn sign_v2<'a>(
        &self,
        t_ms: i64,
        nonce: &str,
        request: RequestBinding<'_>,
        who: IdentityFields<'a>,
    ) -> Result<SignedHeaders<'a>, IdentityError> {
        let role = encode_value(ROLE_HEADER, who.role)?;
        let subject = encode_value(SUBJECT_HEADER, who.subject)?;
        let email = encode_value(EMAIL_HEADER, who.email)?;
        let identity = self.value(
            Version::V2,
            t_ms,
            nonce,
            request,
            IdentityFields {
                role: &role,
                subject: &subject,
                email: &email,
            },
        );
        Ok(SignedHeaders {
            role,
            subject,
            email,
            identity,
        })
    }

    fn value(
        &self,
        version: Version,
        t: i64,
        nonce: &str,
        request: RequestBinding<'_>,
        who: IdentityFields<'_>,
    ) -> String {
        let sig = self.mac(version, t, nonce, request, who);
        let mut value = String::with_capacity(96);
        let mut digits = [0u8; 20];
        value.push_str(version.tag());
        value.push_str(";t=");
        value.push_str(std::str::from_utf8(decimal(t, &mut digits)).unwrap_or("0"));
        value.push_str(";n=");
        value.push_str(nonce);
        value.push_str(";sig=");
        URL_SAFE_NO_PAD.encode_string(sig, &mut value);
        value
    }

    /// HMAC of the canonical form, fed field by field (no joined string is built). The fields
    /// are the values as sent (for v2, encoded).
    fn mac(
        &self,
        version: Version,
        t: i64,
        nonce: &str,
        request: RequestBinding<'_>,
        identity: IdentityFields<'_>,
    ) -> [u8; 32] {
        let mut mac = self.0.clone();
        let mut digits = [0u8; 20];
        mac.update(version.tag().as_bytes());
        mac.update(b"\n");
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

/// The contract's versions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Version {
    /// `t` in seconds, values as they are.
    V1,
    /// `t` in milliseconds, values percent-encoded.
    V2,
}

impl Version {
    fn tag(self) -> &'static str {
        match self {
            Version::V1 => "v1",
            Version::V2 => "v2",
        }
    }
}

/// The identity header values of one request, as a v2 signer sends them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedHeaders<'a> {
    /// `X-MCP-Role`, percent-encoded.
    pub role: Cow<'a, str>,
    /// `X-MCP-Subject`, percent-encoded.
    pub subject: Cow<'a, str>,
    /// `X-MCP-Email`, percent-encoded.
    pub email: Cow<'a, str>,
    /// `X-MCP-Identity`: `v2;t=…;n=…;sig=…`.
    pub identity: String,
}

/// Whether a v2 header value may carry byte `b` as it is: visible ASCII but `%`.
fn sent_as_is(b: u8) -> bool {
    b.is_ascii_graphic() && b != b'%'
}

/// A value as a v2 header carries it (see the module docs); borrowed when nothing needs
/// encoding. A control character is refused: no identity value holds one, and refusing it keeps
/// it out of every log.
pub fn encode_value<'a>(
    header: &'static str,
    value: &'a str,
) -> Result<Cow<'a, str>, IdentityError> {
    if value.chars().any(char::is_control) {
        return Err(IdentityError::BadEncoding {
            header,
            why: "it holds a control character",
        });
    }
    if value.bytes().all(sent_as_is) {
        return Ok(Cow::Borrowed(value));
    }
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut encoded = String::with_capacity(value.len() * 3);
    for b in value.bytes() {
        if sent_as_is(b) {
            encoded.push(char::from(b));
        } else {
            encoded.push('%');
            encoded.push(char::from(HEX[usize::from(b >> 4)]));
            encoded.push(char::from(HEX[usize::from(b & 0x0f)]));
        }
    }
    Ok(Cow::Owned(encoded))
}

/// The value a v2 header carries, decoded; a clear error for a bad encoding, never a panic.
pub fn decode_value<'a>(
    header: &'static str,
    encoded: &'a str,
) -> Result<Cow<'a, str>, IdentityError> {
    let bad = |why| IdentityError::BadEncoding { header, why };
    if let Some(b) = encoded.bytes().find(|b| !sent_as_is(*b) && *b != b'%') {
        return Err(if b.is_ascii() {
            bad("a space or control character must be sent as %XX")
        } else {
            bad("a byte outside ASCII must be sent as %XX")
        });
    }
    let decoded = if encoded.contains('%') {
        let bytes = encoded.as_bytes();
        let mut out = Vec::with_capacity(bytes.len());
        let mut at = 0;
        while at < bytes.len() {
            if bytes[at] == b'%' {
                let hex = |i: usize| bytes.get(i).and_then(|b| char::from(*b).to_digit(16));
                match (hex(at + 1), hex(at + 2)) {
                    (Some(hi), Some(lo)) => out.push((hi * 16 + lo) as u8),
                    _ => return Err(bad("a % is not followed by two hex digits")),
                }
                at += 3;
            } else {
                out.push(bytes[at]);
                at += 1;
            }
        }
        Cow::Owned(
            String::from_utf8(out).map_err(|_| bad("it decodes to bytes that are not UTF-8"))?,
        )
    } else {
        Cow::Borrowed(encoded)
    };
    if decoded.chars().any(char::is_control) {
        return Err(bad("it holds a control character"));
    }
    Ok(decoded)
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

/// The string a v1 header signs.
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

/// The string a v2 header signs (`t` in milliseconds, values percent-encoded).
pub fn canonical_v2(
    t_ms: i64,
    nonce: &str,
    request: RequestBinding<'_>,
    identity: &Identity,
) -> Result<String, IdentityError> {
    Ok([
        "v2",
        &t_ms.to_string(),
        nonce,
        &request.method.to_ascii_uppercase(),
        request.path,
        &encode_value(ROLE_HEADER, &identity.role)?,
        &encode_value(SUBJECT_HEADER, &identity.subject)?,
        &encode_value(EMAIL_HEADER, &identity.email)?,
        request.session_id,
    ]
    .join("\n"))
}

/// The v1 `X-MCP-Identity` value for a request, with the given time (seconds) and nonce.
pub fn sign(
    key: &IdentityKey,
    t: i64,
    nonce: &str,
    request: RequestBinding<'_>,
    identity: &Identity,
) -> String {
    key.header_value(t, nonce, request, identity.fields())
}

/// The v2 identity header values for a request, with the given time (milliseconds) and nonce.
pub fn sign_v2<'a>(
    key: &IdentityKey,
    t_ms: i64,
    nonce: &str,
    request: RequestBinding<'_>,
    identity: &'a Identity,
) -> Result<SignedHeaders<'a>, IdentityError> {
    key.sign_v2(t_ms, nonce, request, identity.fields())
}

/// Now, in unix milliseconds (what a v2 header's `t` carries).
pub fn unix_millis() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
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
    /// Earlier keys still accepted during a rotation (`IDENTITY_HEADER_KEYS_PREVIOUS`).
    previous: Vec<IdentityKey>,
    /// When this verifier was made (unix milliseconds): headers signed before are refused, since
    /// the nonces seen before then are not known (see the module docs).
    started_ms: i64,
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
    /// A verifier with an empty nonce cache, refusing headers signed before now. Make it before
    /// the listener opens.
    pub fn new(key: IdentityKey) -> Self {
        Self::started_at(key, unix_millis())
    }

    /// A verifier that refuses headers signed at or before `started_ms` (unix milliseconds).
    pub fn started_at(key: IdentityKey, started_ms: i64) -> Self {
        Self {
            key,
            previous: Vec::new(),
            started_ms,
            seen: std::array::from_fn(|_| Mutex::new(NonceCache::default())),
        }
    }

    /// How long to wait before opening the listener: until the second after the one this
    /// verifier started in, so that v1 headers (whole seconds) of requests it can receive are
    /// all later than its start second (see the module docs).
    pub fn listen_after(&self, now_ms: i64) -> std::time::Duration {
        let next_second = (self.started_ms.div_euclid(1000) + 1) * 1000;
        std::time::Duration::from_millis(u64::try_from(next_second - now_ms).unwrap_or(0))
    }

    /// Also accepts headers signed with `keys` (earlier keys, during a rotation: the proxy and
    /// the tool server may restart with a new key at different moments).
    pub fn with_previous(mut self, keys: Vec<IdentityKey>) -> Self {
        self.previous = keys;
        self
    }

    /// Checks the identity headers of one request at time `now_ms` (unix milliseconds).
    pub fn verify(
        &self,
        method: &str,
        path: &str,
        headers: &impl HeaderSource,
        now_ms: i64,
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

        let (version, t, nonce, nonce_bits, sig) = parse_value(value)?;
        let now_s = now_ms.div_euclid(1000);
        // The second whose nonce bucket this header belongs to.
        let second = match version {
            Version::V1 => {
                if (now_s - t).abs() > MAX_SKEW_SECS {
                    return Err(IdentityError::Stale);
                }
                t
            }
            Version::V2 => {
                if (now_ms - t).abs() > MAX_SKEW_SECS * 1000 {
                    return Err(IdentityError::Stale);
                }
                t.div_euclid(1000)
            }
        };
        let request = RequestBinding {
            method,
            path,
            session_id,
        };
        let sent = IdentityFields {
            role,
            subject,
            email,
        };
        let signed_with = |key: &IdentityKey| {
            let expected = key.mac(version, t, nonce, request, sent);
            bool::from(expected.as_slice().ct_eq(&sig))
        };
        // The current key first: the previous ones are tried only for a header it did not sign.
        if !signed_with(&self.key) && !self.previous.iter().any(signed_with) {
            return Err(IdentityError::BadSignature);
        }
        match version {
            Version::V2 if t <= self.started_ms => return Err(IdentityError::SignedBeforeStart),
            Version::V1 if t <= self.started_ms.div_euclid(1000) => {
                return Err(IdentityError::SignedBeforeStart);
            }
            Version::V1 => {}
            Version::V2 => {}
        }
        // Only a correctly signed nonce is remembered, so junk cannot fill the cache.
        self.seen[nonce_bits as usize % NONCE_SHARDS]
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .insert(second, nonce_bits, now_s)?;
        let identity = match version {
            Version::V1 => Identity {
                role: role.to_owned(),
                subject: subject.to_owned(),
                email: email.to_owned(),
            },
            Version::V2 => Identity {
                role: decode_value(ROLE_HEADER, role)?.into_owned(),
                subject: decode_value(SUBJECT_HEADER, subject)?.into_owned(),
                email: decode_value(EMAIL_HEADER, email)?.into_owned(),
            },
        };
        if identity.role.is_empty() {
            return Err(IdentityError::EmptyRole);
        }
        Ok(identity)
    }
}

/// Splits `v2;t=…;n=…;sig=…` (or `v1;…`) into its parts, strictly.
#[allow(clippy::type_complexity)]
fn parse_value(value: &str) -> Result<(Version, i64, &str, u128, [u8; 32]), IdentityError> {
    let mut parts = value.split(';');
    let version = match parts.next() {
        Some("v2") => Version::V2,
        Some("v1") => Version::V1,
        _ => return Err(IdentityError::Malformed("version must be v2 (or v1)")),
    };
    let mut field = |prefix: &'static str, what: &'static str| {
        parts
            .next()
            .and_then(|p| p.strip_prefix(prefix))
            .ok_or(IdentityError::Malformed(what))
    };
    let t = field("t=", "expected t=<unix time>")?;
    let nonce = field("n=", "expected n=<nonce>")?;
    let sig = field("sig=", "expected sig=<signature>")?;
    if parts.next().is_some() {
        return Err(IdentityError::Malformed("unexpected fields after sig"));
    }
    let (digits, what) = match version {
        Version::V1 => (12, "t must be unix seconds"),
        Version::V2 => (15, "t must be unix milliseconds"),
    };
    if t.is_empty() || t.len() > digits || !t.bytes().all(|b| b.is_ascii_digit()) {
        return Err(IdentityError::Malformed(what));
    }
    let t: i64 = t.parse().map_err(|_| IdentityError::Malformed(what))?;
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
    Ok((version, t, nonce, nonce_bits, sig))
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

    /// Unix seconds as the milliseconds `verify` takes.
    fn ms(seconds: i64) -> i64 {
        seconds * 1000
    }

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

    /// A verifier started at the epoch, so the examples' timestamps are after its start.
    fn verifier() -> IdentityVerifier {
        IdentityVerifier::started_at(IdentityKey::new(EXAMPLE_KEY).unwrap(), 0)
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
                ms(EXAMPLE_T + 5),
            )
            .unwrap();
        assert_eq!(got, alice());
    }

    const EXAMPLE_T_MS: i64 = 1_767_225_600_123;
    const EXAMPLE_V2_HEADER: &str = "v2;t=1767225600123;n=AAECAwQFBgcICQoLDA0ODw;sig=6nckixiWrBgjnPxGAjD9nd5J5Eozsopm0vSMkyZnjfs";

    fn zoe() -> Identity {
        Identity {
            role: "viewer".into(),
            subject: "00u5z6o7e8".into(),
            email: "zoë.müller@example.com".into(),
        }
    }

    #[test]
    fn readme_worked_example_v2() {
        let key = IdentityKey::new(EXAMPLE_KEY).unwrap();
        assert_eq!(
            canonical_v2(EXAMPLE_T_MS, EXAMPLE_NONCE, post_mcp("sess-1"), &zoe()).unwrap(),
            "v2\n1767225600123\nAAECAwQFBgcICQoLDA0ODw\nPOST\n/mcp\nviewer\n00u5z6o7e8\nzo%C3%AB.m%C3%BCller@example.com\nsess-1"
        );
        let zoe = zoe();
        let signed = sign_v2(&key, EXAMPLE_T_MS, EXAMPLE_NONCE, post_mcp("sess-1"), &zoe).unwrap();
        assert_eq!(signed.email, "zo%C3%AB.m%C3%BCller@example.com");
        assert_eq!(signed.role, "viewer");
        assert!(
            matches!(signed.subject, Cow::Borrowed(_)),
            "nothing to encode"
        );
        assert_eq!(signed.identity, EXAMPLE_V2_HEADER);
        let readme = include_str!("../../README.md");
        assert!(
            readme.contains(EXAMPLE_V2_HEADER),
            "README shows the v2 header"
        );
        assert!(readme.contains("zo%C3%AB.m%C3%BCller@example.com"));
        let mut h = http::HeaderMap::new();
        h.insert(ROLE_HEADER, signed.role.parse().unwrap());
        h.insert(SUBJECT_HEADER, signed.subject.parse().unwrap());
        h.insert(EMAIL_HEADER, signed.email.parse().unwrap());
        h.insert(IDENTITY_HEADER, signed.identity.parse().unwrap());
        h.insert(SESSION_HEADER, "sess-1".parse().unwrap());
        let got = verifier()
            .verify("POST", "/mcp", &h, EXAMPLE_T_MS + 5_000)
            .unwrap();
        assert_eq!(got, zoe, "the tool server sees the exact email");
        // ASCII values travel as they are, also in v2.
        let who = alice();
        let signed = sign_v2(&key, EXAMPLE_T_MS, EXAMPLE_NONCE, post_mcp(""), &who).unwrap();
        assert_eq!(signed.email, "alice@example.com");
    }

    #[test]
    fn values_round_trip_and_bad_encodings_get_clear_errors() {
        for value in [
            "",
            "alice@example.com",
            "zoë.müller@example.com",
            "δοκιμή@παράδειγμα.δοκιμή",
            "100% \"quoted\" name",
            "emoji 🦀 and tab-free",
            "%41 stays %41",
        ] {
            let encoded = encode_value(EMAIL_HEADER, value).unwrap();
            assert!(encoded.bytes().all(|b| b.is_ascii_graphic()), "{encoded}");
            assert_eq!(decode_value(EMAIL_HEADER, &encoded).unwrap(), value);
        }
        assert_eq!(encode_value(EMAIL_HEADER, "a b").unwrap(), "a%20b");
        // Lower-case hex and needless escapes decode too.
        assert_eq!(decode_value(EMAIL_HEADER, "zo%c3%ab%41").unwrap(), "zoëA");
        for (bad, why) in [
            ("%", "two hex digits"),
            ("abc%4", "two hex digits"),
            ("%GG", "two hex digits"),
            ("%+1", "two hex digits"),
            ("%C3", "not UTF-8"),
            ("%FF%FE", "not UTF-8"),
            ("%ED%A0%80", "not UTF-8"),
            ("a%0Aaudit", "control character"),
            ("%7F", "control character"),
            ("%C2%85", "control character"),
            ("a b", "space or control"),
            ("a\tb", "space or control"),
            ("zoë", "outside ASCII"),
        ] {
            match decode_value(EMAIL_HEADER, bad) {
                Err(error @ IdentityError::BadEncoding { .. }) => {
                    let message = error.to_string();
                    assert!(message.contains(why), "{bad:?}: {message}");
                    assert!(message.contains("x-mcp-email"), "{message}");
                }
                other => panic!("{bad:?}: {other:?}"),
            }
        }
        for control in ["a\nb", "a\rb", "\u{0}", "\u{85}"] {
            assert!(
                matches!(
                    encode_value(SUBJECT_HEADER, control),
                    Err(IdentityError::BadEncoding { .. })
                ),
                "{control:?}"
            );
        }
    }

    #[test]
    fn a_correctly_signed_bad_encoding_is_refused_not_a_panic() {
        let key = IdentityKey::new(EXAMPLE_KEY).unwrap();
        // A signer that skipped the encoding rules: the MAC holds, the value does not.
        let sent = Identity {
            role: "viewer".into(),
            subject: "00u1".into(),
            email: "zo%C3".into(),
        };
        let value = key.value(
            Version::V2,
            EXAMPLE_T_MS,
            EXAMPLE_NONCE,
            post_mcp(""),
            sent.fields(),
        );
        let mut h = http::HeaderMap::new();
        h.insert(ROLE_HEADER, "viewer".parse().unwrap());
        h.insert(SUBJECT_HEADER, "00u1".parse().unwrap());
        h.insert(EMAIL_HEADER, "zo%C3".parse().unwrap());
        h.insert(IDENTITY_HEADER, value.parse().unwrap());
        let got = verifier().verify("POST", "/mcp", &h, EXAMPLE_T_MS);
        assert_eq!(
            got,
            Err(IdentityError::BadEncoding {
                header: EMAIL_HEADER,
                why: "it decodes to bytes that are not UTF-8"
            })
        );
        // Raw UTF-8 in a header is not text the contract allows, and the answer says how to send it.
        let mut h = http::HeaderMap::new();
        h.insert(
            EMAIL_HEADER,
            http::HeaderValue::from_bytes("zoë@example.com".as_bytes()).unwrap(),
        );
        h.insert(ROLE_HEADER, "viewer".parse().unwrap());
        h.insert(SUBJECT_HEADER, "00u1".parse().unwrap());
        h.insert(IDENTITY_HEADER, value.parse().unwrap());
        let error = verifier()
            .verify("POST", "/mcp", &h, EXAMPLE_T_MS)
            .unwrap_err();
        assert_eq!(error, IdentityError::NotText(EMAIL_HEADER));
        assert!(error.to_string().contains("percent-encoded"), "{error}");
    }

    #[test]
    fn headers_signed_before_the_verifier_started_are_refused() {
        let key = IdentityKey::new(EXAMPLE_KEY).unwrap();
        let started = EXAMPLE_T_MS;
        let v = IdentityVerifier::started_at(key.clone(), started);
        let who = alice();
        let check = |t_ms: i64| {
            let signed = sign_v2(&key, t_ms, &new_nonce(), post_mcp(""), &who).unwrap();
            v.verify(
                "POST",
                "/mcp",
                &headers(&alice(), &signed.identity, ""),
                started + 1_000,
            )
        };
        // Before the start, or in its very millisecond: could be a capture from before a restart.
        assert_eq!(check(started - 1), Err(IdentityError::SignedBeforeStart));
        assert_eq!(check(started), Err(IdentityError::SignedBeforeStart));
        assert_eq!(check(started + 1), Ok(alice()));
        assert!(
            IdentityError::SignedBeforeStart
                .to_string()
                .contains("signed before this tool server started")
        );
        // v1 has whole seconds: up to the start second refused (the listener opens only in the
        // next one), after it accepted.
        let start_s = started / 1000;
        let v1 = |t: i64| {
            let value = sign(&key, t, &new_nonce(), post_mcp(""), &alice());
            v.verify(
                "POST",
                "/mcp",
                &headers(&alice(), &value, ""),
                ms(start_s + 1),
            )
        };
        assert_eq!(v1(start_s - 1), Err(IdentityError::SignedBeforeStart));
        assert_eq!(v1(start_s), Err(IdentityError::SignedBeforeStart));
        assert!(v.listen_after(started) <= std::time::Duration::from_secs(1));
        assert_eq!(
            v.listen_after((start_s + 1) * 1000),
            std::time::Duration::ZERO
        );
        assert_eq!(
            v.listen_after((start_s + 2) * 1000),
            std::time::Duration::ZERO
        );
        assert_eq!(v1(start_s + 1), Ok(alice()));
    }

    #[test]
    fn v2_windows_are_milliseconds() {
        let key = IdentityKey::new(EXAMPLE_KEY).unwrap();
        let now = EXAMPLE_T_MS;
        let window = MAX_SKEW_SECS * 1000;
        let who = alice();
        for (t, ok) in [
            (now - window - 1, false),
            (now - window, true),
            (now + window, true),
            (now + window + 1, false),
        ] {
            let signed = sign_v2(&key, t, &new_nonce(), post_mcp(""), &who).unwrap();
            let got = verifier().verify(
                "POST",
                "/mcp",
                &headers(&alice(), &signed.identity, ""),
                now,
            );
            assert_eq!(got.is_ok(), ok, "t={t}: {got:?}");
        }
        // A replay in a later second of the window is still a replay.
        let v = verifier();
        let signed = sign_v2(&key, now, EXAMPLE_NONCE, post_mcp(""), &who).unwrap();
        let h = headers(&alice(), &signed.identity, "");
        assert!(v.verify("POST", "/mcp", &h, now).is_ok());
        assert_eq!(
            v.verify("POST", "/mcp", &h, now + window),
            Err(IdentityError::Replayed)
        );
    }

    #[test]
    fn during_a_rotation_headers_under_the_previous_key_are_accepted_until_it_is_dropped() {
        let old = IdentityKey::new(EXAMPLE_KEY).unwrap();
        let new = IdentityKey::new(&"n".repeat(32)).unwrap();
        let by_old = sign(&old, 1000, EXAMPLE_NONCE, post_mcp(""), &alice());
        let by_new = sign(&new, 1000, EXAMPLE_NONCE, post_mcp(""), &alice());
        let rotating = IdentityVerifier::started_at(new.clone(), 0).with_previous(vec![old]);
        assert_eq!(
            rotating.verify("POST", "/mcp", &headers(&alice(), &by_old, ""), ms(1000)),
            Ok(alice())
        );
        // The same nonce under the new key is a replay: one cache whatever the key.
        assert_eq!(
            rotating.verify("POST", "/mcp", &headers(&alice(), &by_new, ""), ms(1000)),
            Err(IdentityError::Replayed)
        );
        let rotated = IdentityVerifier::started_at(new, 0);
        assert_eq!(
            rotated.verify("POST", "/mcp", &headers(&alice(), &by_old, ""), ms(1000)),
            Err(IdentityError::BadSignature)
        );
        assert_eq!(
            rotated.verify("POST", "/mcp", &headers(&alice(), &by_new, ""), ms(1000)),
            Ok(alice())
        );
    }

    #[test]
    fn replayed_nonce_is_refused_once_and_forgotten_later() {
        let v = verifier();
        let key = IdentityKey::new(EXAMPLE_KEY).unwrap();
        let value = sign(&key, 1000, EXAMPLE_NONCE, post_mcp(""), &alice());
        let h = headers(&alice(), &value, "");
        assert!(v.verify("POST", "/mcp", &h, ms(1000)).is_ok());
        assert_eq!(
            v.verify("POST", "/mcp", &h, ms(1001)),
            Err(IdentityError::Replayed)
        );
        assert_eq!(
            v.verify("POST", "/mcp", &h, ms(1000 + MAX_SKEW_SECS)),
            Err(IdentityError::Replayed)
        );
        // After the window the header is stale anyway, and the cache has let the nonce go.
        assert_eq!(
            v.verify("POST", "/mcp", &h, ms(1000 + MAX_SKEW_SECS + 1)),
            Err(IdentityError::Stale)
        );
        // A nonce in the same shard as the first (the shard is chosen by its first byte):
        // the shard drops the old second's bucket as it takes the new one.
        let mut bytes: [u8; NONCE_LEN] = rand::random();
        bytes[0] = 0;
        let same_shard = URL_SAFE_NO_PAD.encode(bytes);
        let later = sign(&key, 1100, &same_shard, post_mcp(""), &alice());
        assert!(
            v.verify("POST", "/mcp", &headers(&alice(), &later, ""), ms(1100))
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
                verifier().verify(method, path, &h, ms(1000)),
                Err(IdentityError::BadSignature),
                "{method} {path}"
            );
        }
        let wrong_key = IdentityKey::new(&"k".repeat(40)).unwrap();
        let forged = sign(&wrong_key, 1000, EXAMPLE_NONCE, post_mcp("s1"), &alice());
        assert_eq!(
            verifier().verify("POST", "/mcp", &headers(&alice(), &forged, "s1"), ms(1000)),
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
            let got = verifier().verify("POST", "/mcp", &headers(&alice(), &value, ""), ms(1000));
            assert_eq!(got.is_ok(), ok, "t={t}: {got:?}");
        }
    }

    #[test]
    fn malformed_values_get_clear_errors_not_panics() {
        let v = verifier();
        for bad in [
            "",
            "v3;t=1;n=AAECAwQFBgcICQoLDA0ODw;sig=AA",
            "v1",
            "v1;t=;n=AAECAwQFBgcICQoLDA0ODw;sig=AA",
            "v1;t=-5;n=AAECAwQFBgcICQoLDA0ODw;sig=AA",
            "v1;t=99999999999999999999;n=AAECAwQFBgcICQoLDA0ODw;sig=AA",
            "v1;t=1000;n=short;sig=AA",
            "v1;t=1000;n=AAECAwQFBgcICQoLDA0ODw;sig=***",
            "v1;t=1000;n=AAECAwQFBgcICQoLDA0ODw;sig=AA;x=1",
            "v1;n=AAECAwQFBgcICQoLDA0ODw;t=1000;sig=AA",
            "v2;t=1000000000000000;n=AAECAwQFBgcICQoLDA0ODw;sig=AA",
            "v2;t=1e6;n=AAECAwQFBgcICQoLDA0ODw;sig=AA",
        ] {
            let got = v.verify("POST", "/mcp", &headers(&alice(), bad, ""), ms(1000));
            assert!(
                matches!(got, Err(IdentityError::Malformed(_))),
                "{bad:?}: {got:?}"
            );
        }
        let mut h = headers(&alice(), "v1", "");
        h.remove(IDENTITY_HEADER);
        assert_eq!(
            v.verify("POST", "/mcp", &h, ms(1000)),
            Err(IdentityError::Missing(IDENTITY_HEADER))
        );
        let mut h = headers(&alice(), "v1", "");
        h.remove(ROLE_HEADER);
        assert_eq!(
            v.verify("POST", "/mcp", &h, ms(1000)),
            Err(IdentityError::Missing(ROLE_HEADER))
        );
        let mut h = headers(&alice(), "v1", "");
        h.insert(
            SUBJECT_HEADER,
            http::HeaderValue::from_bytes(b"\xff").unwrap(),
        );
        assert_eq!(
            v.verify("POST", "/mcp", &h, ms(1000)),
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
