//! Registered clients: their redirect URIs (what may be registered, what matches at
//! `/authorize`) and client authentication at `/token` and `/revoke`.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use http::{StatusCode, header};
use serde::{Deserialize, Serialize};
use url::{Host, Url};

use super::client_metadata::{ResolveError, is_url_client_id};
use super::params::Params;
use super::preregistered::PRIVATE_KEY_JWT;
use super::{AuthServer, now, oauth_error, store_unavailable};
use crate::jws;
use crate::tokens::{same_text, sha256_b64};
use crate::web::{WebRequest, WebResponse};

/// Longest redirect URI accepted.
pub(super) const MAX_REDIRECT_URI: usize = 2048;
/// Longest client id looked up (ours are 22 characters).
const MAX_CLIENT_ID: usize = 128;

/// A client registered through `/register`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct RegisteredClient {
    pub client_id: String,
    /// SHA-256 of the secret for confidential clients.
    pub secret_hash: Option<String>,
    pub redirect_uris: Vec<String>,
    pub token_endpoint_auth_method: String,
    pub grant_types: Vec<String>,
    pub client_name: Option<String>,
    pub scope: Option<String>,
    pub issued_at: i64,
    /// What `CLIENTS_FILE` adds for a client listed there (never stored).
    #[serde(skip)]
    pub preregistered: Option<std::sync::Arc<super::preregistered::Preregistered>>,
}

impl RegisteredClient {
    /// The store key of a client that has been given tokens at least once.
    ///
    /// Registration is anonymous, so a new client is kept apart (under [`Self::new_key`]) until
    /// its first code is redeemed: a flood of registrations can then only push out other
    /// registrations nobody has used yet, never a client in use.
    pub(super) fn key(client_id: &str) -> String {
        format!("client:{client_id}")
    }

    /// The store key of a client registered and not yet given tokens.
    pub(super) fn new_key(client_id: &str) -> String {
        format!("client-new:{client_id}")
    }

    /// Whether `requested` is one of the registered redirect URIs: byte for byte, except that a
    /// loopback `http` URI matches on any port (RFC 8252 §7.3: native apps pick a free port).
    pub(super) fn redirect_uri_matches(&self, requested: &str) -> bool {
        if self.redirect_uris.iter().any(|r| r == requested) {
            return true;
        }
        if check_redirect_uri(requested).is_err() {
            return false;
        }
        // Compared as text without the port: comparing parsed URLs also accepted spellings the
        // client never registered (`HTTP://LOCALHOST`, `127.1`, `/x/../cb`, `%3C` for `<`). And
        // loopback means the host as written, `localhost`, `127.0.0.1` or `[::1]`: a parser
        // also reads `127.1` or `2130706433` as 127.0.0.1, but those are not the documented
        // spellings the any-port rule is for (found by fuzzing: `http://127.1:/cb` matched
        // `http://127.1:9/cb`).
        let Some(requested) = loopback_without_port(requested) else {
            return false;
        };
        self.redirect_uris
            .iter()
            .any(|registered| loopback_without_port(registered).is_some_and(|r| r == requested))
    }

    /// Whether the client registered the refresh-token grant.
    pub(super) fn allows_refresh(&self) -> bool {
        self.grant_types.iter().any(|g| g == "refresh_token")
    }

    /// The host serving this client's metadata document, for a client whose id is its URL
    /// (the one thing about it the proxy verified); `None` for a registered client.
    pub(super) fn verified_host(&self) -> Option<String> {
        if !is_url_client_id(&self.client_id) {
            return None;
        }
        Url::parse(&self.client_id)
            .ok()
            .and_then(|url| url.host_str().map(str::to_owned))
    }
}

/// `uri` without the port of its authority, when it is `http://` to `localhost` (any case),
/// `127.0.0.1` or `[::1]` as written; `None` for any other URI.
pub(super) fn loopback_without_port(uri: &str) -> Option<String> {
    let rest = uri.strip_prefix("http://")?;
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..end];
    let host = match authority.rsplit_once(':') {
        Some((host, port))
            if port.bytes().all(|b| b.is_ascii_digit())
                && (host.ends_with(']') || !host.contains(':')) =>
        {
            host
        }
        _ => authority,
    };
    let loopback = host.eq_ignore_ascii_case("localhost") || host == "127.0.0.1" || host == "[::1]";
    loopback.then(|| format!("http://{host}{}", &rest[end..]))
}

/// `http` to localhost, 127.0.0.1 or [::1].
fn is_loopback_http(url: &Url) -> bool {
    url.scheme() == "http"
        && match url.host() {
            Some(Host::Domain(domain)) => domain.eq_ignore_ascii_case("localhost"),
            Some(Host::Ipv4(ip)) => ip == std::net::Ipv4Addr::LOCALHOST,
            Some(Host::Ipv6(ip)) => ip == std::net::Ipv6Addr::LOCALHOST,
            None => false,
        }
}

/// Schemes never accepted, even if they were written in reverse-domain form.
const REFUSED_SCHEMES: [&str; 7] = [
    "javascript",
    "data",
    "file",
    "vbscript",
    "blob",
    "about",
    "filesystem",
];

/// Whether `uri` may be registered (and used) as a redirect URI; the error says why not.
///
/// Allowed: `https` with a host; `http` only to a loopback host; private-use schemes in
/// reverse-domain form (`com.example.app:/cb`, RFC 8252 §7.1). Never a fragment or user info.
pub(super) fn check_redirect_uri(uri: &str) -> Result<(), String> {
    if uri.len() > MAX_REDIRECT_URI {
        return Err(format!("is longer than {MAX_REDIRECT_URI} bytes"));
    }
    if uri.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err("contains whitespace or control characters".into());
    }
    if uri.contains('#') {
        return Err("has a fragment".into());
    }
    if uri.contains('\\') {
        return Err("contains a backslash".into());
    }
    let url = Url::parse(uri).map_err(|_| "is not an absolute URL".to_owned())?;
    let after_scheme = uri.get(url.scheme().len()..).unwrap_or("");
    let has_authority = after_scheme
        .strip_prefix("://")
        .is_some_and(|rest| !rest.starts_with('/'));
    if matches!(url.scheme(), "http" | "https") && !has_authority {
        return Err("is not of the form scheme://host/path".into());
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("contains user information".into());
    }
    let scheme = url.scheme();
    if REFUSED_SCHEMES.contains(&scheme) {
        return Err(format!("uses the {scheme}: scheme, which is not allowed"));
    }
    match scheme {
        "https" => match url.host_str() {
            Some(host) if !host.is_empty() => Ok(()),
            _ => Err("has no host".into()),
        },
        "http" if is_loopback_http(&url) => Ok(()),
        "http" => Err("uses http to a host that is not loopback (use https, or localhost, 127.0.0.1 or [::1])".into()),
        _ if scheme.contains('.') => Ok(()),
        _ => Err(format!(
            "uses the {scheme}: scheme; use https, loopback http, or a private-use scheme in reverse-domain form"
        )),
    }
}

/// Why a client could not be looked up.
#[derive(Debug)]
pub(super) enum FindClientError {
    /// The store is down.
    Store(crate::store::StoreError),
    /// A client id URL or its metadata document was refused; the text says what to fix.
    Refused(String),
}

impl FindClientError {
    /// The page a browser endpoint shows (never a redirect: the client is not known good).
    pub(super) fn page(self) -> WebResponse {
        match self {
            Self::Store(error) => super::store_unavailable_page(error),
            Self::Refused(why) => super::pages::error_page(
                StatusCode::BAD_REQUEST,
                "App not accepted",
                &format!("invalid_client: {why}"),
            ),
        }
    }
}

impl From<crate::store::StoreError> for FindClientError {
    fn from(error: crate::store::StoreError) -> Self {
        Self::Store(error)
    }
}

/// `client_assertion_type` of `private_key_jwt` (RFC 7523 §2.2).
pub(super) const CLIENT_ASSERTION_TYPE: &str =
    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// Longest a client assertion may be valid for (from now to `exp`).
const MAX_ASSERTION_LIFETIME: i64 = 10 * 60;
/// Clock difference tolerated on `exp`, `iat` and `nbf` of assertions.
const CLOCK_SKEW: i64 = 60;

/// Checks `exp` (required, in the future, at most `max_lifetime` from now), `iat` and `nbf`
/// (if present, not in the future), with [`CLOCK_SKEW`]; returns `exp`.
pub(super) fn check_lifetime(
    claims: &serde_json::Map<String, serde_json::Value>,
    now: i64,
    max_lifetime: i64,
) -> Result<i64, String> {
    let Some(exp) = jws::time_claim(claims, "exp") else {
        return Err("exp is missing".into());
    };
    if exp + CLOCK_SKEW <= now {
        return Err("it has expired (exp)".into());
    }
    if exp > now + max_lifetime + CLOCK_SKEW {
        return Err(format!(
            "exp is more than {max_lifetime} s away; use a short-lived assertion"
        ));
    }
    for name in ["iat", "nbf"] {
        match claims.get(name) {
            None => {}
            Some(value) => match value.as_i64() {
                Some(t) if t <= now + CLOCK_SKEW => {}
                Some(_) => return Err(format!("{name} is in the future")),
                None => return Err(format!("{name} is not a number")),
            },
        }
    }
    Ok(exp)
}

/// What a client showed at `/token` or `/revoke` to say who it is.
struct Credentials {
    client_id: String,
    secret: Option<String>,
    /// Whether they came in an `Authorization: Basic` header (401 must then challenge).
    basic: bool,
}

fn invalid_client(description: &str, basic: bool) -> WebResponse {
    let response = oauth_error(StatusCode::UNAUTHORIZED, "invalid_client", description);
    if basic {
        response.with_header(header::WWW_AUTHENTICATE, "Basic realm=\"okta-mcp\"")
    } else {
        response
    }
}

/// The client id and secret from `Authorization: Basic` (RFC 6749 §2.3.1: each form-encoded).
pub(super) fn basic_credentials(request: &WebRequest) -> Result<Option<(String, String)>, ()> {
    let Some(value) = request.header("authorization") else {
        return Ok(None);
    };
    let Some((scheme, encoded)) = value.split_once(' ') else {
        return Err(());
    };
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(());
    }
    let decoded = STANDARD.decode(encoded.trim()).map_err(|_| ())?;
    let decoded = String::from_utf8(decoded).map_err(|_| ())?;
    let (id, secret) = decoded.split_once(':').ok_or(())?;
    let unescape = |s: &str| -> String {
        form_urlencoded::parse(format!("x={s}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default()
    };
    Ok(Some((unescape(id), unescape(secret))))
}

impl AuthServer {
    /// Authenticates the client of a `/token` or `/revoke` request (RFC 6749 §2.3): by
    /// `client_secret_basic`, `client_secret_post`, `private_key_jwt` (RFC 7523 §2.2, clients of
    /// `CLIENTS_FILE` with keys), or just `client_id` for public clients.
    pub(super) async fn authenticate_client(
        &self,
        request: &WebRequest,
        form: &Params,
    ) -> Result<RegisteredClient, WebResponse> {
        if form.get("client_assertion").is_some() || form.get("client_assertion_type").is_some() {
            return self.authenticate_by_assertion(request, form).await;
        }
        let credentials = match basic_credentials(request) {
            Err(()) => {
                return Err(invalid_client(
                    "the Authorization header is not valid Basic client authentication",
                    true,
                ));
            }
            Ok(Some((client_id, secret))) => {
                if form.get("client_id").is_some_and(|id| id != client_id) {
                    return Err(invalid_client(
                        "client_id differs from the Authorization header",
                        true,
                    ));
                }
                if form.get("client_secret").is_some() {
                    return Err(oauth_error(
                        StatusCode::BAD_REQUEST,
                        "invalid_request",
                        "use one client authentication method, not two",
                    ));
                }
                Credentials {
                    client_id,
                    secret: Some(secret),
                    basic: true,
                }
            }
            Ok(None) => match form.get("client_id") {
                Some(client_id) => Credentials {
                    client_id: client_id.to_owned(),
                    secret: form.get("client_secret").map(str::to_owned),
                    basic: false,
                },
                None => return Err(invalid_client("client_id is missing", false)),
            },
        };
        let client = self
            .known_client(&credentials.client_id, credentials.basic)
            .await?;
        if client.token_endpoint_auth_method == PRIVATE_KEY_JWT {
            return Err(invalid_client(
                "this client authenticates with private_key_jwt (client_assertion), not a secret",
                credentials.basic,
            ));
        }
        if let Some(expected) = &client.secret_hash {
            let presented = credentials.secret.as_deref().unwrap_or("");
            if presented.is_empty() || !same_text(&sha256_b64(presented), expected) {
                return Err(invalid_client(
                    "client authentication failed",
                    credentials.basic,
                ));
            }
        }
        Ok(client)
    }

    /// Records the one-time id `key` until `exp` (plus [`CLOCK_SKEW`]): `true` for its first
    /// use on any replica (the store's atomic first write decides), `false` for a replay.
    // The `Err` is the complete answer to send, built only when the store is down.
    #[allow(clippy::result_large_err)]
    pub(super) async fn first_use(
        &self,
        key: &str,
        value: &str,
        exp: i64,
        now: i64,
    ) -> Result<bool, WebResponse> {
        let ttl =
            std::time::Duration::from_secs(u64::try_from(exp - now + CLOCK_SKEW).unwrap_or(1));
        self.store
            .put_new(key, value, ttl)
            .await
            .map_err(store_unavailable)
    }

    /// The client `client_id` for `/token` or `/revoke`; `invalid_client` when unknown.
    async fn known_client(
        &self,
        client_id: &str,
        basic: bool,
    ) -> Result<RegisteredClient, WebResponse> {
        if client_id.len() > MAX_CLIENT_ID && !is_url_client_id(client_id) {
            return Err(invalid_client("unknown client; register again", basic));
        }
        match self.find_client(client_id).await {
            Ok(Some(client)) => Ok(client),
            Ok(None) => Err(invalid_client("unknown client; register again", basic)),
            Err(FindClientError::Store(error)) => Err(store_unavailable(error)),
            Err(FindClientError::Refused(why)) => Err(invalid_client(&why, basic)),
        }
    }

    /// `private_key_jwt`: a JWT the client signed with a key `CLIENTS_FILE` lists for it, for
    /// us (`aud` = our issuer, as RFC 7523bis asks), short-lived and used once (`jti`).
    async fn authenticate_by_assertion(
        &self,
        request: &WebRequest,
        form: &Params,
    ) -> Result<RegisteredClient, WebResponse> {
        let refuse = |why: &str| invalid_client(why, false);
        if request.header("authorization").is_some() || form.get("client_secret").is_some() {
            return Err(oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "use one client authentication method, not two",
            ));
        }
        if form.get("client_assertion_type") != Some(CLIENT_ASSERTION_TYPE) {
            return Err(refuse(&format!(
                "client_assertion_type must be {CLIENT_ASSERTION_TYPE}"
            )));
        }
        let Some(assertion) = form.get("client_assertion") else {
            return Err(refuse("client_assertion is missing"));
        };
        // The client is named by the assertion's `sub` (RFC 7523 §3); read before the signature
        // is checked, only to find the keys to check it with.
        let claimed = jws::peek_claims(assertion)
            .ok()
            .and_then(|claims| jws::string_claim(&claims, "sub").map(str::to_owned))
            .ok_or_else(|| refuse("client_assertion is not a JWT with a sub claim"))?;
        if form.get("client_id").is_some_and(|id| id != claimed) {
            return Err(refuse("client_id differs from the client_assertion's sub"));
        }
        let client = self.known_client(&claimed, false).await?;
        let Some(keys) = client.preregistered.as_ref().and_then(|p| p.keys.as_ref()) else {
            return Err(refuse(
                "this client has no keys for private_key_jwt; authenticate with its secret",
            ));
        };
        let verified = jws::verify(assertion, keys)
            .map_err(|e| refuse(&format!("client_assertion refused: {e}")))?;
        let claims = &verified.claims;
        let now = now();
        let id = client.client_id.as_str();
        if jws::string_claim(claims, "iss") != Some(id)
            || jws::string_claim(claims, "sub") != Some(id)
        {
            return Err(refuse(
                "client_assertion: iss and sub must both be the client_id",
            ));
        }
        if !jws::audience_is(claims, &self.issuer) {
            return Err(refuse(&format!(
                "client_assertion: aud must be {:?} (this server's issuer)",
                self.issuer
            )));
        }
        let exp = check_lifetime(claims, now, MAX_ASSERTION_LIFETIME)
            .map_err(|why| refuse(&format!("client_assertion: {why}")))?;
        let Some(jti) =
            jws::string_claim(claims, "jti").filter(|j| !j.is_empty() && j.len() <= 256)
        else {
            return Err(refuse("client_assertion: jti is missing"));
        };
        let key = format!("assertion-jti:{}", sha256_b64(&format!("{id}\n{jti}")));
        if !self.first_use(&key, "1", exp, now).await? {
            tracing::warn!(client_id = %id, "client assertion replayed");
            return Err(refuse(
                "client_assertion was already used (jti); sign a new one",
            ));
        }
        Ok(client)
    }

    /// The client `client_id`: registered here, or (for an https URL) described by its
    /// client ID metadata document. `Ok(None)`: unknown.
    pub(super) async fn find_client(
        &self,
        client_id: &str,
    ) -> Result<Option<RegisteredClient>, FindClientError> {
        if let Some(client) = self.preregistered.get(client_id) {
            return Ok(Some(client.clone()));
        }
        if is_url_client_id(client_id) {
            let Some(documents) = &self.client_documents else {
                return Err(FindClientError::Refused(
                    "client ID metadata documents are turned off on this server; register with DCR"
                        .into(),
                ));
            };
            return match documents.resolve(client_id, &*self.store, now()).await {
                Ok(client) => Ok(Some(client)),
                Err(ResolveError::Refused(why)) => {
                    tracing::info!(client_id = ?client_id, reason = ?why.0, "client metadata document refused");
                    Err(FindClientError::Refused(why.0))
                }
                Err(ResolveError::Store(error)) => Err(FindClientError::Store(error)),
            };
        }
        if client_id.len() > MAX_CLIENT_ID {
            return Ok(None);
        }
        let key = RegisteredClient::key(client_id);
        if let Some(client) = self.load(&key).await? {
            return Ok(Some(client));
        }
        if let Some(client) = self.load(&RegisteredClient::new_key(client_id)).await? {
            return Ok(Some(client));
        }
        // `establish` on another replica may have moved the client between the two reads: it
        // writes the `client:` key before deleting the `client-new:` one, so a client missed by
        // both reads is under `client:` now, or unknown (found by proxy_redis's race test).
        Ok(self.load(&key).await?)
    }

    /// Moves a client given its first tokens to the kind registrations cannot push out.
    pub(super) async fn establish(
        &self,
        client: &RegisteredClient,
    ) -> Result<(), crate::store::StoreError> {
        let new_key = RegisteredClient::new_key(&client.client_id);
        if self.store.get(&new_key).await?.is_none() {
            return Ok(());
        }
        self.save(
            &RegisteredClient::key(&client.client_id),
            client,
            self.settings.client_ttl,
        )
        .await?;
        self.store.delete(&new_key).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{MemoryStore, ScannedEntry, Store, StoreError};
    use async_trait::async_trait;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::Duration;

    /// A store in which another replica establishes the client (writes `client:`, deletes
    /// `client-new:`) just before this replica reads `client-new:`: the interleaving that made
    /// proxy_redis's race test see "unknown client" once in CI.
    struct EstablishedMeanwhile {
        inner: MemoryStore,
        moved: AtomicBool,
    }

    #[async_trait]
    impl Store for EstablishedMeanwhile {
        async fn put(&self, key: &str, value: &str, ttl: Duration) -> Result<(), StoreError> {
            self.inner.put(key, value, ttl).await
        }
        async fn put_new(&self, key: &str, value: &str, ttl: Duration) -> Result<bool, StoreError> {
            self.inner.put_new(key, value, ttl).await
        }
        async fn get(&self, key: &str) -> Result<Option<String>, StoreError> {
            if let Some(id) = key.strip_prefix("client-new:")
                && !self.moved.swap(true, Ordering::SeqCst)
                && let Some(value) = self.inner.get(key).await?
            {
                let established = RegisteredClient::key(id);
                self.inner
                    .put(&established, &value, Duration::from_secs(60))
                    .await?;
                self.inner.delete(key).await?;
            }
            self.inner.get(key).await
        }
        async fn take(&self, key: &str) -> Result<Option<String>, StoreError> {
            self.inner.take(key).await
        }
        async fn delete(&self, key: &str) -> Result<(), StoreError> {
            self.inner.delete(key).await
        }
        async fn scan(&self, namespace: &str) -> Result<Vec<ScannedEntry>, StoreError> {
            self.inner.scan(namespace).await
        }
        fn describe(&self) -> String {
            "establishing meanwhile".into()
        }
    }

    #[tokio::test]
    async fn a_client_established_by_another_replica_between_two_reads_is_still_found() {
        let store = Arc::new(EstablishedMeanwhile {
            inner: MemoryStore::default(),
            moved: AtomicBool::new(true),
        });
        let settings = super::super::OAuthSettings::new(
            Url::parse("https://mcp.example.com").unwrap(),
            vec![42u8; 32],
        )
        .unwrap();
        let roles =
            crate::roles::RoleMap::from_toml_str(super::super::testing::ROLES, "t").unwrap();
        let server = AuthServer::new(
            settings,
            store.clone(),
            Arc::new(super::super::testing::FakeOkta::new()),
            Arc::new(roles),
        );
        let registered = client(&["https://app.example/cb"]);
        let value = serde_json::to_string(&registered).unwrap();
        store
            .inner
            .put(
                &RegisteredClient::new_key("c"),
                &value,
                Duration::from_secs(60),
            )
            .await
            .unwrap();
        store.moved.store(false, Ordering::SeqCst);
        let found = server.find_client("c").await.ok().flatten();
        assert_eq!(found.map(|c| c.client_id).as_deref(), Some("c"));
    }

    fn client(uris: &[&str]) -> RegisteredClient {
        RegisteredClient {
            client_id: "c".into(),
            secret_hash: None,
            redirect_uris: uris.iter().map(|u| u.to_string()).collect(),
            token_endpoint_auth_method: "none".into(),
            grant_types: vec!["authorization_code".into()],
            client_name: None,
            scope: None,
            issued_at: 0,
            preregistered: None,
        }
    }

    #[test]
    fn allowed_redirect_uris() {
        for ok in [
            "https://claude.ai/api/mcp/auth_callback",
            "https://vscode.dev/redirect",
            "https://example.com/cb?x=1",
            "http://localhost:33418/oauth/callback",
            "http://localhost/cb",
            "http://127.0.0.1:33418",
            "http://[::1]:8080/cb",
            "com.example.app:/oauth2redirect",
            "com.example.app://callback",
            "cursor.app://anysphere.cursor-mcp/oauth/callback",
        ] {
            assert_eq!(check_redirect_uri(ok), Ok(()), "{ok}");
        }
    }

    #[test]
    fn refused_redirect_uris() {
        for bad in [
            "javascript:alert(1)",
            "JavaScript:alert(1)",
            "data:text/html,<script>alert(1)</script>",
            "file:///etc/passwd",
            "vbscript:msgbox(1)",
            "http://example.com/cb",
            "http://localhost.evil.com/cb",
            "http://127.0.0.2/cb",
            "http://10.0.0.1/cb",
            "https://example.com/cb#frag",
            "https://user:pass@example.com/cb",
            "https://user@example.com/cb",
            "/relative/cb",
            "cb",
            "",
            "not a url",
            "https://example.com/c b",
            "https://example.com/cb\n",
            "myapp:/cb",
            "ftp://example.com/cb",
            "https:///cb",
            "https:example.com/cb",
            "https://example.com\\@evil.com/cb",
        ] {
            assert!(
                check_redirect_uri(bad).is_err(),
                "{bad:?} should be refused"
            );
        }
        assert!(check_redirect_uri(&format!("https://example.com/{}", "a".repeat(2100))).is_err());
    }

    #[test]
    fn exact_match_except_loopback_port() {
        let c = client(&[
            "https://app.example/cb",
            "http://localhost:1234/callback",
            "http://127.0.0.1/cb",
        ]);
        assert!(c.redirect_uri_matches("https://app.example/cb"));
        assert!(!c.redirect_uri_matches("https://app.example/cb/"));
        assert!(!c.redirect_uri_matches("https://app.example/cb?x=1"));
        assert!(!c.redirect_uri_matches("https://app.example:444/cb"));
        assert!(!c.redirect_uri_matches("https://APP.example/cb"));
        assert!(c.redirect_uri_matches("http://localhost:1234/callback"));
        assert!(c.redirect_uri_matches("http://localhost:5678/callback"));
        assert!(c.redirect_uri_matches("http://localhost/callback"));
        assert!(c.redirect_uri_matches("http://127.0.0.1:9999/cb"));
        assert!(!c.redirect_uri_matches("http://127.0.0.1:9999/other"));
        assert!(!c.redirect_uri_matches("http://localhost:5678/callback?x=1"));
        assert!(!c.redirect_uri_matches("http://127.0.0.1:5678/callback"));
        assert!(!c.redirect_uri_matches("http://user@localhost:5678/callback"));
        assert!(!c.redirect_uri_matches("http://localhost:5678/callback#x"));
        assert!(!c.redirect_uri_matches("https://localhost:5678/callback"));
        assert!(!c.redirect_uri_matches("javascript:alert(1)"));
    }

    /// Found by `fuzz/run.sh` (redirect_uri): the any-port rule applied to `127.1`, a spelling
    /// of 127.0.0.1 the rule does not name. Now only `localhost`, `127.0.0.1` and `[::1]` as
    /// written get it; any other spelling must match byte for byte.
    #[test]
    fn only_the_documented_loopback_spellings_match_on_any_port() {
        let c = client(&[
            "Http://127.0.0.1/cb",
            "http://127.1:/cb",
            "http://[::1]:/cb",
        ]);
        assert!(!c.redirect_uri_matches("http://127.1:9/cb"));
        assert!(c.redirect_uri_matches("http://127.1:/cb"));
        assert!(!c.redirect_uri_matches("http://127.0.0.1:9/cb"));
        assert!(c.redirect_uri_matches("http://[::1]:9/cb"));
    }
}
