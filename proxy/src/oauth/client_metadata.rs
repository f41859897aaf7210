//! Client ID Metadata Documents (draft-ietf-oauth-client-id-metadata-document): a `client_id`
//! that is an `https` URL names the client, and the document at that URL describes it.
//!
//! Fetching a URL that anyone can name is a server-side request forgery risk, so the fetch is
//! built as one: `https` only, no redirects, no proxy, a size and a time limit, and every
//! address is vetted *where the connection is made*. The HTTP client resolves names only
//! through [`VettedResolver`], which drops private, loopback, link-local and other special
//! addresses, so it can only connect to an address that was checked (a DNS answer that changes
//! between a check and the connect — rebinding — gets nowhere); the address actually connected
//! to is checked again on the response. An IP literal in the URL is checked before any fetch.
//! A valid document is cached in the store (its `Cache-Control`, capped), so `/authorize`,
//! the callback and `/token` of one login fetch it once.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tokio::sync::Semaphore;
use url::{Host, Url};

use super::clients::{RegisteredClient, check_redirect_uri};
use crate::store::{Store, StoreError};
use crate::tokens::sha256_b64;

/// Largest document read (the draft suggests 5 KB; a little slack for long redirect lists).
pub const MAX_DOCUMENT_BYTES: usize = 8 * 1024;
/// Longest client id URL accepted.
pub const MAX_CLIENT_ID_URL: usize = 2048;
/// Time to connect, and for the whole fetch.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
const FETCH_TIMEOUT: Duration = Duration::from_secs(5);
/// Cache time of a document that sends no `Cache-Control` (still capped by the setting).
const DEFAULT_CACHE: Duration = Duration::from_secs(5 * 60);
/// Fetches in flight at once, so a burst of client ids cannot make the proxy a request cannon.
const CONCURRENT_FETCHES: usize = 8;
/// Most redirect URIs a document may list.
const MAX_REDIRECT_URIS: usize = 20;
/// Longest `client_name` shown.
const MAX_CLIENT_NAME: usize = 200;

/// What an operator decides about client ID metadata documents.
#[derive(Debug, Clone)]
pub struct ClientMetadataSettings {
    /// Hosts whose documents are accepted; empty = any public host. `.example.com` (or
    /// `*.example.com`) also names every subdomain.
    pub allowed_hosts: Vec<String>,
    /// Hosts whose documents are refused (wins over `allowed_hosts`); same forms.
    pub denied_hosts: Vec<String>,
    /// The longest a fetched document is cached, whatever its `Cache-Control` says.
    pub cache_max_age: Duration,
    /// TEST ONLY: also accept documents served from loopback addresses.
    pub allow_loopback_for_tests: bool,
    /// TEST ONLY: PEM certificates trusted in addition to the public roots.
    pub extra_root_pem_for_tests: Option<Vec<u8>>,
}

impl Default for ClientMetadataSettings {
    fn default() -> Self {
        Self {
            allowed_hosts: Vec::new(),
            denied_hosts: Vec::new(),
            cache_max_age: Duration::from_secs(3600),
            allow_loopback_for_tests: false,
            extra_root_pem_for_tests: None,
        }
    }
}

/// Why the client metadata documents cannot be set up.
#[derive(Debug, thiserror::Error)]
pub enum ClientMetadataSetupError {
    #[error("the extra CA certificate for client metadata documents is not PEM: {0}")]
    Certificate(String),
    #[error("cannot build the HTTP client for client metadata documents: {0}")]
    HttpClient(String),
}

/// Why a client id URL or its document was refused; the text is the `error_description`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Refused(pub String);

fn refused(text: impl Into<String>) -> Refused {
    Refused(text.into())
}

/// Why a metadata-document client could not be resolved.
#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    #[error(transparent)]
    Refused(#[from] Refused),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Whether `client_id` is meant as a URL (our own registered ids never contain `:`).
pub fn is_url_client_id(client_id: &str) -> bool {
    client_id.contains(':')
}

/// Checks `client_id` against the draft's rules for a client id URL: `https`, a host, a path
/// other than `/`, no fragment, no user information, no `.`/`..` segments, written in
/// canonical form (so the one document has one id).
pub fn check_client_id_url(client_id: &str) -> Result<Url, Refused> {
    if client_id.len() > MAX_CLIENT_ID_URL {
        return Err(refused(format!(
            "client_id URL is longer than {MAX_CLIENT_ID_URL} bytes"
        )));
    }
    let url = Url::parse(client_id)
        .map_err(|_| refused("client_id is neither a registered client nor a valid URL"))?;
    if url.scheme() != "https" {
        return Err(refused(
            "client_id URL must use https (client ID metadata documents are only fetched over https)",
        ));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(refused("client_id URL must not contain user information"));
    }
    if url.fragment().is_some() || client_id.contains('#') {
        return Err(refused("client_id URL must not have a fragment"));
    }
    if url.host().is_none() {
        return Err(refused("client_id URL has no host"));
    }
    let raw_path = client_id
        .strip_prefix("https://")
        .and_then(|rest| rest.find('/').map(|i| &rest[i..]))
        .map(|p| p.split(['?', '#']).next().unwrap_or(p))
        .unwrap_or("");
    if raw_path.split('/').any(|s| {
        s == "." || s == ".." || s.eq_ignore_ascii_case("%2e") || s.eq_ignore_ascii_case("%2e%2e")
    }) {
        return Err(refused(
            "client_id URL must not contain . or .. path segments",
        ));
    }
    if url.path() == "/" || url.path().is_empty() {
        return Err(refused(
            "client_id URL must have a path (e.g. https://app.example/client.json)",
        ));
    }
    if url.as_str() != client_id {
        return Err(refused(format!(
            "client_id URL is not in canonical form; use {}",
            url.as_str()
        )));
    }
    Ok(url)
}

/// Whether an address may be fetched from: not private, loopback (unless `allow_loopback`),
/// link-local (cloud metadata at 169.254.169.254 and fd00:ec2::254 included), unspecified,
/// multicast, documentation, shared (CGNAT) or otherwise reserved.
pub fn is_fetchable_address(ip: IpAddr, allow_loopback: bool) -> bool {
    match ip {
        IpAddr::V4(v4) => fetchable_v4(v4, allow_loopback),
        IpAddr::V6(v6) => fetchable_v6(v6, allow_loopback),
    }
}

fn fetchable_v4(ip: Ipv4Addr, allow_loopback: bool) -> bool {
    let [a, b, c, _] = ip.octets();
    if ip.is_loopback() {
        return allow_loopback;
    }
    !(a == 0 // "this network", 0.0.0.0 included
        || a == 10
        || (a == 100 && (64..128).contains(&b)) // shared address space (CGNAT)
        || (a == 169 && b == 254) // link-local, cloud metadata
        || (a == 172 && (16..32).contains(&b))
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 192 && b == 0 && c == 2) // documentation
        || (a == 192 && b == 88 && c == 99) // 6to4 relay anycast
        || (a == 192 && b == 168)
        || (a == 198 && (b == 18 || b == 19)) // benchmarking
        || (a == 198 && b == 51 && c == 100) // documentation
        || (a == 203 && b == 0 && c == 113) // documentation
        || a >= 224) // multicast, reserved, broadcast
}

fn fetchable_v6(ip: Ipv6Addr, allow_loopback: bool) -> bool {
    if ip.is_loopback() {
        return allow_loopback;
    }
    if let Some(v4) = ip.to_ipv4_mapped() {
        return fetchable_v4(v4, allow_loopback);
    }
    let s = ip.segments();
    // NAT64 (64:ff9b::/96) and 6to4 (2002::/16) carry an IPv4 address: judge that one.
    if s[0] == 0x64 && s[1] == 0xff9b && s[2..6] == [0, 0, 0, 0] {
        let v4 = Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
        return fetchable_v4(v4, false);
    }
    if s[0] == 0x2002 {
        let v4 = Ipv4Addr::new((s[1] >> 8) as u8, s[1] as u8, (s[2] >> 8) as u8, s[2] as u8);
        return fetchable_v4(v4, false);
    }
    !(ip.is_unspecified()
        || s[0..6] == [0, 0, 0, 0, 0, 0] // IPv4-compatible (deprecated)
        || (s[0] & 0xfe00) == 0xfc00 // unique local fc00::/7
        || (s[0] & 0xffc0) == 0xfe80 // link-local fe80::/10
        || (s[0] & 0xffc0) == 0xfec0 // site-local fec0::/10 (deprecated)
        || (s[0] & 0xff00) == 0xff00 // multicast
        || (s[0] == 0x2001 && s[1] < 0x200) // 2001::/23: Teredo, benchmarking, ORCHID…
        || (s[0] == 0x2001 && s[1] == 0x0db8) // documentation
        || (s[0] == 0x0100 && s[1..4] == [0, 0, 0])) // discard-only 100::/64
}

/// Whether `host` is named by a list entry: the host itself, or with a leading `.` or `*.`
/// any subdomain of it (and it).
fn host_listed(host: &str, list: &[String]) -> bool {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    list.iter().any(|entry| {
        let entry = entry.trim().trim_end_matches('.').to_ascii_lowercase();
        match entry.strip_prefix("*.").or_else(|| entry.strip_prefix('.')) {
            Some(domain) => host == domain || host.ends_with(&format!(".{domain}")),
            None => !entry.is_empty() && host == entry,
        }
    })
}

/// How long a response may be cached by its `Cache-Control`, capped at `cap`.
pub fn cache_time(cache_control: Option<&str>, cap: Duration) -> Duration {
    let Some(value) = cache_control else {
        return DEFAULT_CACHE.min(cap);
    };
    let mut max_age = None;
    for directive in value.split(',') {
        let directive = directive.trim().to_ascii_lowercase();
        if directive == "no-store" || directive == "no-cache" {
            return Duration::ZERO;
        }
        if let Some(secs) = directive.strip_prefix("max-age=") {
            max_age = Some(
                secs.trim_matches('"')
                    .parse::<u64>()
                    .map(Duration::from_secs)
                    .unwrap_or(Duration::ZERO),
            );
        }
    }
    max_age.unwrap_or(DEFAULT_CACHE).min(cap)
}

/// Checks a fetched document for `client_id` and turns it into the client it describes.
pub(super) fn client_from_document(
    client_id: &str,
    body: &[u8],
    now: i64,
) -> Result<RegisteredClient, Refused> {
    let doc: Value = serde_json::from_slice(body)
        .map_err(|_| refused("the client metadata document is not valid JSON"))?;
    let Some(doc) = doc.as_object() else {
        return Err(refused("the client metadata document is not a JSON object"));
    };
    match doc.get("client_id") {
        Some(Value::String(id)) if id == client_id => {}
        Some(Value::String(id)) => {
            return Err(refused(format!(
                "the client metadata document's client_id ({}) must equal the URL it is served from ({client_id})",
                shorten(id)
            )));
        }
        _ => {
            return Err(refused(
                "the client metadata document must contain client_id, equal to its URL",
            ));
        }
    }
    if doc.contains_key("client_secret") || doc.contains_key("client_secret_expires_at") {
        return Err(refused(
            "the client metadata document must not contain client_secret (a public document cannot hold a secret)",
        ));
    }
    match doc.get("token_endpoint_auth_method") {
        None => {}
        Some(Value::String(m)) if m == "none" => {}
        Some(Value::String(m)) if m.starts_with("client_secret") => {
            return Err(refused(format!(
                "the client metadata document's token_endpoint_auth_method must not be {m}: shared-secret methods cannot be used with a metadata document; use none"
            )));
        }
        Some(Value::String(m)) => {
            return Err(refused(format!(
                "the client metadata document's token_endpoint_auth_method {} is not supported here; use none",
                shorten(m)
            )));
        }
        Some(_) => {
            return Err(refused(
                "the client metadata document's token_endpoint_auth_method must be a string",
            ));
        }
    }
    let redirect_uris: Vec<String> = match doc.get("redirect_uris") {
        Some(Value::Array(uris)) if !uris.is_empty() => {
            if uris.len() > MAX_REDIRECT_URIS {
                return Err(refused(format!(
                    "the client metadata document lists more than {MAX_REDIRECT_URIS} redirect_uris"
                )));
            }
            let mut out = Vec::with_capacity(uris.len());
            for uri in uris {
                let Some(uri) = uri.as_str() else {
                    return Err(refused(
                        "the client metadata document's redirect_uris must be strings",
                    ));
                };
                check_redirect_uri(uri).map_err(|why| {
                    refused(format!(
                        "the client metadata document's redirect URI {} {why}",
                        shorten(uri)
                    ))
                })?;
                out.push(uri.to_owned());
            }
            out
        }
        _ => {
            return Err(refused(
                "the client metadata document must list redirect_uris (a non-empty array)",
            ));
        }
    };
    let grant_types = match doc.get("grant_types") {
        None => vec!["authorization_code".to_owned()],
        Some(Value::Array(grants)) => {
            let mut out = Vec::new();
            for grant in grants {
                match grant.as_str() {
                    Some(g @ ("authorization_code" | "refresh_token")) => out.push(g.to_owned()),
                    Some(other) => {
                        return Err(refused(format!(
                            "the client metadata document's grant type {} is not supported; use authorization_code and refresh_token",
                            shorten(other)
                        )));
                    }
                    None => {
                        return Err(refused(
                            "the client metadata document's grant_types must be strings",
                        ));
                    }
                }
            }
            if !out.iter().any(|g| g == "authorization_code") {
                return Err(refused(
                    "the client metadata document's grant_types must include authorization_code",
                ));
            }
            out
        }
        Some(_) => {
            return Err(refused(
                "the client metadata document's grant_types must be an array",
            ));
        }
    };
    if let Some(types) = doc.get("response_types")
        && !types
            .as_array()
            .is_some_and(|t| t.iter().any(|t| t.as_str() == Some("code")))
    {
        return Err(refused(
            "the client metadata document's response_types must include code",
        ));
    }
    let client_name = match doc.get("client_name") {
        None | Some(Value::Null) => None,
        Some(Value::String(name)) if name.chars().count() <= MAX_CLIENT_NAME => Some(name.clone()),
        Some(Value::String(_)) => {
            return Err(refused(format!(
                "the client metadata document's client_name is longer than {MAX_CLIENT_NAME} characters"
            )));
        }
        Some(_) => {
            return Err(refused(
                "the client metadata document's client_name must be a string",
            ));
        }
    };
    let scope = doc.get("scope").and_then(Value::as_str).map(str::to_owned);
    Ok(RegisteredClient {
        client_id: client_id.to_owned(),
        secret_hash: None,
        redirect_uris,
        token_endpoint_auth_method: "none".to_owned(),
        grant_types,
        client_name,
        scope,
        issued_at: now,
        preregistered: None,
    })
}

/// Text from a document, cut short for an error description.
fn shorten(text: &str) -> String {
    let cut: String = text.chars().take(80).collect();
    if cut.len() < text.len() {
        format!("{cut}…")
    } else {
        cut
    }
}

/// Resolves names for the metadata fetch, keeping only addresses [`is_fetchable_address`]
/// accepts: the HTTP client connects only to addresses it returns.
struct VettedResolver {
    allow_loopback: bool,
}

impl reqwest::dns::Resolve for VettedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let allow_loopback = self.allow_loopback;
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let found: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let vetted: Vec<SocketAddr> = found
                .iter()
                .copied()
                .filter(|a| is_fetchable_address(a.ip(), allow_loopback))
                .collect();
            if vetted.is_empty() {
                return Err(
                    Box::new(NotFetchable(host)) as Box<dyn std::error::Error + Send + Sync>
                );
            }
            Ok(Box::new(vetted.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// The resolver's error when every address of a host is refused.
#[derive(Debug, thiserror::Error)]
#[error("{0} resolves only to private, loopback, link-local or reserved addresses")]
struct NotFetchable(String);

/// Fetches, checks and caches client ID metadata documents.
pub struct ClientMetadataDocuments {
    settings: ClientMetadataSettings,
    http: reqwest::Client,
    fetches: Semaphore,
}

impl ClientMetadataDocuments {
    /// Builds the fetching HTTP client (no network yet).
    pub fn new(settings: ClientMetadataSettings) -> Result<Self, ClientMetadataSetupError> {
        // reqwest is built without a default crypto provider; ring is the process's one.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut builder = reqwest::Client::builder()
            .https_only(true)
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(FETCH_TIMEOUT)
            .user_agent("okta-mcp-proxy (client metadata document fetch)")
            .dns_resolver(Arc::new(VettedResolver {
                allow_loopback: settings.allow_loopback_for_tests,
            }));
        if let Some(pem) = &settings.extra_root_pem_for_tests {
            let certs = reqwest::Certificate::from_pem_bundle(pem)
                .map_err(|e| ClientMetadataSetupError::Certificate(e.to_string()))?;
            for cert in certs {
                builder = builder.add_root_certificate(cert);
            }
        }
        let http = builder
            .build()
            .map_err(|e| ClientMetadataSetupError::HttpClient(e.to_string()))?;
        Ok(Self {
            settings,
            http,
            fetches: Semaphore::new(CONCURRENT_FETCHES),
        })
    }

    /// The store key of the cached client of `url`.
    fn key(url: &str) -> String {
        format!("cimd:{}", sha256_b64(url))
    }

    /// The client `client_id` (a URL) describes: from the cache, else fetched and checked.
    pub(super) async fn resolve(
        &self,
        client_id: &str,
        store: &dyn Store,
        now: i64,
    ) -> Result<RegisteredClient, ResolveError> {
        let url = check_client_id_url(client_id)?;
        self.check_host(&url)?;
        let key = Self::key(client_id);
        if let Some(text) = store.get(&key).await?
            && let Ok(client) = serde_json::from_str::<RegisteredClient>(&text)
            && client.client_id == client_id
        {
            return Ok(client);
        }
        let (body, ttl) = self.fetch(&url).await?;
        let client = client_from_document(client_id, &body, now)?;
        if !ttl.is_zero() {
            let text = serde_json::to_string(&client)
                .map_err(|e| StoreError::Unavailable(e.to_string()))?;
            store.put(&key, &text, ttl).await?;
        }
        Ok(client)
    }

    /// The operator's lists, and an IP literal's address.
    fn check_host(&self, url: &Url) -> Result<(), Refused> {
        let host = url.host_str().unwrap_or("");
        if host_listed(host, &self.settings.denied_hosts) {
            return Err(refused(format!(
                "client metadata documents from {host} are not accepted here (denied host)"
            )));
        }
        if !self.settings.allowed_hosts.is_empty()
            && !host_listed(host, &self.settings.allowed_hosts)
        {
            return Err(refused(format!(
                "client metadata documents from {host} are not accepted here (not an allowed host); register with DCR instead"
            )));
        }
        let literal = match url.host() {
            Some(Host::Ipv4(ip)) => Some(IpAddr::V4(ip)),
            Some(Host::Ipv6(ip)) => Some(IpAddr::V6(ip)),
            _ => None,
        };
        if let Some(ip) = literal
            && !is_fetchable_address(ip, self.settings.allow_loopback_for_tests)
        {
            return Err(not_public(host));
        }
        Ok(())
    }

    /// GETs the document: one try, no redirects, vetted addresses, bounded in size and time.
    async fn fetch(&self, url: &Url) -> Result<(Vec<u8>, Duration), Refused> {
        let host = url.host_str().unwrap_or("").to_owned();
        // Waiting for a fetch slot counts against the same time limit, so a burst of client
        // ids queues for seconds at most instead of piling up.
        let _permit = match tokio::time::timeout(FETCH_TIMEOUT, self.fetches.acquire()).await {
            Ok(Ok(permit)) => permit,
            Ok(Err(_)) => return Err(refused("the proxy is shutting down")),
            Err(_) => {
                return Err(refused(
                    "too many client metadata documents are being fetched right now; try again",
                ));
            }
        };
        let fetched = tokio::time::timeout(FETCH_TIMEOUT, async {
            let response = self
                .http
                .get(url.clone())
                .header(http::header::ACCEPT, "application/json")
                .send()
                .await
                .map_err(|e| fetch_error(&host, &e))?;
            match response.remote_addr() {
                Some(peer) if is_fetchable_address(peer.ip(), self.settings.allow_loopback_for_tests) => {}
                _ => return Err(not_public(&host)),
            }
            let status = response.status();
            if status.is_redirection() {
                return Err(refused(format!(
                    "the client metadata document at {url} answered with a redirect ({status}); serve it at the client_id URL itself (redirects are not followed)"
                )));
            }
            if status != http::StatusCode::OK {
                return Err(refused(format!(
                    "the client metadata document at {url} could not be fetched (HTTP {status})"
                )));
            }
            let content_type = response
                .headers()
                .get(http::header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok());
            if !is_json_media_type(content_type) {
                return Err(refused(format!(
                    "the client metadata document at {url} has the content type {:?}; serve it as application/json",
                    content_type.unwrap_or("(none)")
                )));
            }
            let too_large = || {
                refused(format!(
                    "the client metadata document at {url} is larger than {MAX_DOCUMENT_BYTES} bytes"
                ))
            };
            if response
                .content_length()
                .is_some_and(|n| n > MAX_DOCUMENT_BYTES as u64)
            {
                return Err(too_large());
            }
            let ttl = cache_time(
                response
                    .headers()
                    .get(http::header::CACHE_CONTROL)
                    .and_then(|v| v.to_str().ok()),
                self.settings.cache_max_age,
            );
            let mut response = response;
            let mut body = Vec::new();
            while let Some(chunk) = response
                .chunk()
                .await
                .map_err(|e| fetch_error(&host, &e))?
            {
                if body.len() + chunk.len() > MAX_DOCUMENT_BYTES {
                    return Err(too_large());
                }
                body.extend_from_slice(&chunk);
            }
            Ok((body, ttl))
        })
        .await;
        match fetched {
            Ok(result) => result,
            Err(_) => Err(timed_out(url)),
        }
    }
}

/// `application/json`, or a more specific `application/<name>+json` (the draft's rule), with
/// any parameters (`; charset=utf-8`).
fn is_json_media_type(value: Option<&str>) -> bool {
    let Some(value) = value else {
        return false;
    };
    let essence = value
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || essence
            .strip_prefix("application/")
            .and_then(|subtype| subtype.strip_suffix("+json"))
            .is_some_and(|name| {
                !name.is_empty()
                    && name
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"!#$&-^_.".contains(&b))
            })
}

fn timed_out(url: &Url) -> Refused {
    refused(format!(
        "the client metadata document at {url} did not arrive within {} s",
        FETCH_TIMEOUT.as_secs()
    ))
}

fn not_public(host: &str) -> Refused {
    refused(format!(
        "{host} is not a public address (private, loopback, link-local or reserved); client metadata documents must be served from the internet"
    ))
}

/// A transport error as a description the client's developer can act on.
fn fetch_error(host: &str, error: &reqwest::Error) -> Refused {
    let mut chain = String::new();
    let mut source: Option<&dyn std::error::Error> = Some(error);
    while let Some(e) = source {
        if e.is::<NotFetchable>() {
            return not_public(host);
        }
        chain = e.to_string();
        source = e.source();
    }
    if error.is_timeout() {
        return refused(format!(
            "the client metadata document at {host} did not arrive within {} s",
            FETCH_TIMEOUT.as_secs()
        ));
    }
    refused(format!(
        "the client metadata document could not be fetched from {host}: {chain}"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "https://app.example.com/oauth/client.json";

    #[test]
    fn client_id_urls_follow_the_drafts_rules() {
        for ok in [
            ID,
            "https://app.example.com/c",
            "https://app.example.com:8443/client.json",
            "https://app.example.com/client.json?v=2",
        ] {
            assert_eq!(
                check_client_id_url(ok).map(|u| u.to_string()),
                Ok(ok.to_owned()),
                "{ok}"
            );
        }
        for (bad, why) in [
            ("http://app.example.com/client.json", "https"),
            ("https://app.example.com", "path"),
            ("https://app.example.com/", "path"),
            ("https://app.example.com/client.json#x", "fragment"),
            (
                "https://user:pw@app.example.com/client.json",
                "user information",
            ),
            (
                "https://user@app.example.com/client.json",
                "user information",
            ),
            ("https://app.example.com/a/../client.json", ". or .."),
            ("https://app.example.com/./client.json", ". or .."),
            ("https://app.example.com/a/%2e%2e/client.json", ". or .."),
            ("https://APP.example.com/client.json", "canonical"),
            ("https://app.example.com:443/client.json", "canonical"),
            ("https://app.example.com/a b", "canonical"),
            ("ftp://app.example.com/client.json", "https"),
            ("not a url", "valid URL"),
        ] {
            let error = check_client_id_url(bad).unwrap_err().0;
            assert!(error.contains(why), "{bad}: {error}");
        }
        let long = format!("https://app.example.com/{}", "a".repeat(MAX_CLIENT_ID_URL));
        assert!(check_client_id_url(&long).is_err());
        assert!(is_url_client_id(ID));
        assert!(!is_url_client_id("abcDEF123_-xyz"));
    }

    #[test]
    fn only_public_addresses_are_fetched() {
        for bad in [
            "0.0.0.0",
            "0.1.2.3",
            "10.0.0.1",
            "100.64.0.1",
            "127.0.0.1",
            "127.8.9.10",
            "169.254.169.254",
            "169.254.0.1",
            "172.16.0.1",
            "172.31.255.255",
            "192.0.0.8",
            "192.0.2.1",
            "192.168.1.1",
            "198.18.0.1",
            "224.0.0.1",
            "240.0.0.1",
            "255.255.255.255",
            "::",
            "::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::ffff:169.254.169.254",
            "::127.0.0.1",
            "fc00::1",
            "fd00:ec2::254",
            "fe80::1",
            "febf::1",
            "fec0::1",
            "ff02::1",
            "2001:db8::1",
            "2001::1",
            "64:ff9b::a9fe:a9fe",
            "64:ff9b::7f00:1",
            "2002:c0a8:0101::1",
            "100::1",
        ] {
            let ip: IpAddr = bad.parse().unwrap();
            assert!(!is_fetchable_address(ip, false), "{bad} must be refused");
        }
        for good in [
            "93.184.215.14",
            "1.1.1.1",
            "172.32.0.1",
            "100.128.0.1",
            "2606:4700::1111",
            "::ffff:93.184.215.14",
            "64:ff9b::5db8:d70e",
        ] {
            let ip: IpAddr = good.parse().unwrap();
            assert!(is_fetchable_address(ip, false), "{good} must be allowed");
        }
        // The test-only switch opens loopback, and only loopback.
        for ip in ["127.0.0.1", "::1", "::ffff:127.0.0.1"] {
            assert!(is_fetchable_address(ip.parse().unwrap(), true), "{ip}");
        }
        for ip in ["10.0.0.1", "169.254.169.254", "fe80::1", "0.0.0.0", "::"] {
            assert!(!is_fetchable_address(ip.parse().unwrap(), true), "{ip}");
        }
    }

    #[test]
    fn host_lists_name_hosts_and_subdomains() {
        let list = vec![
            "vscode.dev".to_owned(),
            ".claude.ai".to_owned(),
            "*.example.org".to_owned(),
        ];
        assert!(host_listed("vscode.dev", &list));
        assert!(host_listed("VSCODE.dev.", &list));
        assert!(!host_listed("evil.vscode.dev", &list));
        assert!(!host_listed("notvscode.dev", &list));
        assert!(host_listed("claude.ai", &list));
        assert!(host_listed("www.claude.ai", &list));
        assert!(!host_listed("evilclaude.ai", &list));
        assert!(host_listed("a.b.example.org", &list));
        assert!(!host_listed("example.org.evil", &list));
        assert!(!host_listed("x", &[String::new()]));
    }

    #[test]
    fn cache_control_is_honoured_with_a_cap() {
        let cap = Duration::from_secs(3600);
        assert_eq!(cache_time(None, cap), DEFAULT_CACHE);
        assert_eq!(cache_time(Some("max-age=60"), cap), Duration::from_secs(60));
        assert_eq!(cache_time(Some("public, max-age=86400"), cap), cap);
        assert_eq!(cache_time(Some("no-store"), cap), Duration::ZERO);
        assert_eq!(
            cache_time(Some("max-age=60, no-cache"), cap),
            Duration::ZERO
        );
        assert_eq!(cache_time(Some("max-age=junk"), cap), Duration::ZERO);
        assert_eq!(
            cache_time(None, Duration::from_secs(10)),
            Duration::from_secs(10)
        );
    }

    fn doc(extra: serde_json::Value) -> Vec<u8> {
        let mut base = serde_json::json!({
            "client_id": ID,
            "client_name": "Example App",
            "redirect_uris": ["http://localhost:3334/callback", "https://app.example.com/cb"],
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            "token_endpoint_auth_method": "none",
        });
        for (k, v) in extra.as_object().unwrap() {
            if v.is_null() {
                base.as_object_mut().unwrap().remove(k);
            } else {
                base[k] = v.clone();
            }
        }
        serde_json::to_vec(&base).unwrap()
    }

    #[test]
    fn a_good_document_becomes_a_public_client() {
        let client = client_from_document(ID, &doc(serde_json::json!({})), 7).unwrap();
        assert_eq!(client.client_id, ID);
        assert_eq!(client.client_name.as_deref(), Some("Example App"));
        assert!(client.secret_hash.is_none());
        assert!(client.allows_refresh());
        // the loopback port rule applies as for DCR
        assert!(client.redirect_uri_matches("http://localhost:5555/callback"));
        assert!(!client.redirect_uri_matches("https://app.example.com/cb2"));
        // minimal: client_id and redirect_uris
        let minimal =
            serde_json::json!({"client_id": ID, "redirect_uris": ["https://app.example.com/cb"]});
        let client = client_from_document(ID, &serde_json::to_vec(&minimal).unwrap(), 0).unwrap();
        assert!(!client.allows_refresh());
    }

    #[test]
    fn bad_documents_are_refused_saying_what_to_fix() {
        for (extra, why) in [
            (
                serde_json::json!({"client_id": null}),
                "must contain client_id",
            ),
            (
                serde_json::json!({"client_id": "https://other.example/c.json"}),
                "must equal the URL",
            ),
            (
                serde_json::json!({"client_id": 5}),
                "must contain client_id",
            ),
            (serde_json::json!({"redirect_uris": null}), "redirect_uris"),
            (serde_json::json!({"redirect_uris": []}), "redirect_uris"),
            (serde_json::json!({"redirect_uris": [1]}), "strings"),
            (
                serde_json::json!({"redirect_uris": ["javascript:alert(1)"]}),
                "redirect URI",
            ),
            (
                serde_json::json!({"redirect_uris": ["http://example.com/cb"]}),
                "not loopback",
            ),
            (
                serde_json::json!({"token_endpoint_auth_method": "client_secret_post"}),
                "must not be client_secret_post",
            ),
            (
                serde_json::json!({"token_endpoint_auth_method": "client_secret_basic"}),
                "must not be client_secret_basic",
            ),
            (
                serde_json::json!({"token_endpoint_auth_method": "client_secret_jwt"}),
                "must not be client_secret_jwt",
            ),
            (
                serde_json::json!({"token_endpoint_auth_method": "private_key_jwt"}),
                "not supported",
            ),
            (serde_json::json!({"client_secret": "s"}), "client_secret"),
            (
                serde_json::json!({"grant_types": ["implicit"]}),
                "not supported",
            ),
            (
                serde_json::json!({"grant_types": ["refresh_token"]}),
                "authorization_code",
            ),
            (serde_json::json!({"response_types": ["token"]}), "code"),
            (
                serde_json::json!({"client_name": "x".repeat(201)}),
                "client_name",
            ),
            (serde_json::json!({"client_name": 3}), "client_name"),
        ] {
            let error = client_from_document(ID, &doc(extra.clone()), 0)
                .unwrap_err()
                .0;
            assert!(error.contains(why), "{extra}: {error}");
        }
        let many: Vec<String> = (0..21)
            .map(|i| format!("https://app.example.com/cb{i}"))
            .collect();
        assert!(
            client_from_document(ID, &doc(serde_json::json!({"redirect_uris": many})), 0).is_err()
        );
        assert!(
            client_from_document(ID, b"not json", 0)
                .unwrap_err()
                .0
                .contains("JSON")
        );
        assert!(
            client_from_document(ID, b"[]", 0)
                .unwrap_err()
                .0
                .contains("object")
        );
    }

    #[tokio::test]
    async fn listed_hosts_and_address_literals_are_checked_before_any_fetch() {
        let documents = ClientMetadataDocuments::new(ClientMetadataSettings {
            denied_hosts: vec!["evil.example".into()],
            ..ClientMetadataSettings::default()
        })
        .unwrap();
        let store = crate::store::MemoryStore::default();
        for (id, why) in [
            ("https://evil.example/c.json", "denied host"),
            ("https://127.0.0.1/c.json", "not a public address"),
            ("https://[::1]/c.json", "not a public address"),
            (
                "https://169.254.169.254/latest/meta-data",
                "not a public address",
            ),
            ("https://10.1.2.3/c.json", "not a public address"),
            ("http://app.example.com/c.json", "https"),
        ] {
            match documents.resolve(id, &store, 0).await {
                Err(ResolveError::Refused(Refused(text))) => {
                    assert!(text.contains(why), "{id}: {text}")
                }
                other => panic!("{id}: {other:?}"),
            }
        }
        let only = ClientMetadataDocuments::new(ClientMetadataSettings {
            allowed_hosts: vec!["vscode.dev".into()],
            ..ClientMetadataSettings::default()
        })
        .unwrap();
        match only
            .resolve("https://other.example/c.json", &store, 0)
            .await
        {
            Err(ResolveError::Refused(Refused(text))) => {
                assert!(text.contains("not an allowed host"), "{text}")
            }
            other => panic!("{other:?}"),
        }
    }

    /// With metadata documents turned off, a URL client id is `invalid_client` saying so, at
    /// `/token` and (as a page, never a redirect) at `/authorize`.
    #[tokio::test]
    async fn turned_off_a_url_client_id_is_refused_saying_so() {
        use super::super::testing::*;
        let t = Harness::new();
        let token = t
            .post_form(
                "/token",
                &[
                    ("grant_type", "authorization_code"),
                    ("client_id", ID),
                    ("code", "x"),
                ],
                &[],
            )
            .await;
        assert_eq!(token.status, http::StatusCode::UNAUTHORIZED);
        let body = json_body(&token);
        assert_eq!(body["error"], "invalid_client");
        assert!(
            body["error_description"]
                .as_str()
                .unwrap()
                .contains("turned off")
        );
        let (_, challenge) = pkce();
        let page = t
            .browse_get(&t.authorize_path(ID, "https://app.example.com/cb", &challenge, "s"))
            .await;
        assert_eq!(page.status, http::StatusCode::BAD_REQUEST);
        assert!(header(&page, "location").is_none());
        let text = String::from_utf8(page.body.to_vec()).unwrap();
        assert!(
            text.contains("invalid_client") && text.contains("turned off"),
            "{text}"
        );
    }

    /// The connect-time check: a name that resolves only to loopback gives the HTTP client no
    /// address at all (so DNS rebinding to 127.0.0.1 has nothing to connect to), unless the
    /// test-only switch is on.
    #[tokio::test]
    async fn the_resolver_hands_out_only_vetted_addresses() {
        use reqwest::dns::Resolve;
        let name = |n: &str| n.parse::<reqwest::dns::Name>().unwrap();
        let strict = VettedResolver {
            allow_loopback: false,
        };
        let error = match strict.resolve(name("localhost")).await {
            Ok(addrs) => panic!("got {:?}", addrs.collect::<Vec<_>>()),
            Err(error) => error,
        };
        assert!(error.is::<NotFetchable>(), "{error}");
        let tests = VettedResolver {
            allow_loopback: true,
        };
        let addrs: Vec<SocketAddr> = tests.resolve(name("localhost")).await.unwrap().collect();
        assert!(!addrs.is_empty() && addrs.iter().all(|a| a.ip().is_loopback()));
    }

    #[tokio::test]
    async fn a_cached_document_is_used_without_fetching() {
        let documents = ClientMetadataDocuments::new(ClientMetadataSettings::default()).unwrap();
        let store = crate::store::MemoryStore::default();
        let client = client_from_document(ID, &doc(serde_json::json!({})), 1).unwrap();
        store
            .put(
                &ClientMetadataDocuments::key(ID),
                &serde_json::to_string(&client).unwrap(),
                Duration::from_secs(60),
            )
            .await
            .unwrap();
        // app.example.com does not exist: only the cache can answer.
        let found = documents.resolve(ID, &store, 2).await.unwrap();
        assert_eq!(found.client_name.as_deref(), Some("Example App"));
    }

    #[test]
    fn only_json_media_types_are_documents() {
        for good in [
            "application/json",
            "application/json; charset=utf-8",
            "Application/JSON",
            "application/oauth-client-metadata+json",
        ] {
            assert!(is_json_media_type(Some(good)), "{good}");
        }
        for bad in [
            "text/html",
            "text/json",
            "application/jsonp",
            "application/+json",
            "application/x json+json",
            "",
        ] {
            assert!(!is_json_media_type(Some(bad)), "{bad}");
        }
        assert!(!is_json_media_type(None));
    }
}
